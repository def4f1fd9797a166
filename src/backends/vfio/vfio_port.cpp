// The vfio: backend: spec parsing, the checks that turn a wrong host state
// into an instruction, the VFIO session, and the hand-over to the driver the
// table names for the device's PCI ID: the one bring-up path of every driver.
#include "aether/backends/vfio_port.hpp"

#include <fmt/format.h>

#include <utility>

#include "aether/drivers/driver_table.hpp"
#include "aether/vfio/device_session.hpp"
#include "aether/vfio/pci_sysfs.hpp"

namespace aether::backends {
namespace {

// Ring sizes: 16 keeps a burst of 32 meaningful in two refills; 4096 is
// what QEMU's virtio-net and the 82574 (its descriptor rings hold up to
// 64 Ki entries, but 4096 is plenty) accept without surprises.
constexpr std::uint64_t min_queue_size = 16;
constexpr std::uint64_t max_queue_size = 4096;

Error with_spec(const net::PortSpec& spec, Error error) {
  error.message = fmt::format("port '{}': {}", spec.text, error.message);
  return error;
}

}  // namespace

Result<VfioSpec> parse_vfio_spec(const net::PortSpec& spec) {
  if (auto known = spec.check_keys({"queue_size", "mode"}); !known) return std::move(known).error();
  auto address = vfio::PciAddress::parse(spec.target);
  if (!address) return with_spec(spec, std::move(address).error());
  auto queue_size = spec.get_unsigned("queue_size", 256, min_queue_size, max_queue_size);
  if (!queue_size) return std::move(queue_size).error();
  if ((*queue_size & (*queue_size - 1)) != 0) {
    return invalid_argument(fmt::format("port '{}': queue_size={} must be a power of two ({}..{}); rings index with "
                                        "a mask (virtio 1.2, 2.7)",
                                        spec.text, *queue_size, min_queue_size, max_queue_size));
  }
  auto mode = spec.get_choice("mode", "poll", {"poll", "interrupt"});
  if (!mode) return std::move(mode).error();
  VfioSpec parsed;
  parsed.address = *address;
  parsed.options.queue_size = static_cast<std::uint16_t>(*queue_size);
  parsed.options.completion = *mode == "interrupt" ? drivers::CompletionMode::interrupt : drivers::CompletionMode::poll;
  return parsed;
}

Result<std::unique_ptr<net::Port>> open_vfio_port(const net::PortSpec& spec, const net::PortOptions& options) {
  auto parsed = parse_vfio_spec(spec);
  if (!parsed) return std::move(parsed).error();
  if (options.pool == nullptr) return invalid_argument(fmt::format("port '{}': no mempool given", spec.text));
  const std::string name = parsed->address.to_string();

  // What sysfs says first: each wrong state gets its own instruction
  // before VFIO is touched.
  const vfio::PciSysfs sysfs;
  auto function = sysfs.read(parsed->address);
  if (!function) return with_spec(spec, std::move(function).error());
  auto driver = drivers::driver_for(function->vendor, function->device);
  if (!driver) {
    return with_spec(spec, invalid_argument(fmt::format("{} (class {:06x}): {}; `aether devices` lists the candidates",
                                                        name, function->class_code, driver.error().message)));
  }
  if (function->driver != "vfio-pci") {
    return with_spec(spec, invalid_argument(fmt::format(
                               "{} is {}, not to vfio-pci: run `aether bind {}` first (and `aether unbind {}` to "
                               "give it back to the kernel afterwards)",
                               name, function->driver.empty() ? "bound to no driver" : "bound to " + function->driver,
                               name, name)));
  }
  if (!sysfs.iommu_present() || !function->iommu_group) {
    return with_spec(spec, invalid_argument(fmt::format(
                               "{} has no IOMMU group: no IOMMU is active. Aether drives devices only behind an "
                               "IOMMU; boot with intel_iommu=on (or amd_iommu=on) and bind it again",
                               name)));
  }

  auto session = vfio::DeviceSession::open(parsed->address);
  if (!session) return with_spec(spec, std::move(session).error());
  drivers::VfioPortContext context;
  context.spec = spec.text;
  context.session = std::move(*session);
  context.pool = options.pool;
  context.port_id = options.port_id;
  context.options = parsed->options;
  auto port = (*driver)->open(std::move(context));
  if (!port) return with_spec(spec, std::move(port).error());
  return port;
}

}  // namespace aether::backends
