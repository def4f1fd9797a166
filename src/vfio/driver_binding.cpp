#include "aether/vfio/driver_binding.hpp"

#include <filesystem>
#include <thread>

#include "aether/core/log.hpp"
#include "aether/vfio/netdev_usage.hpp"
#include "aether/vfio/pci_sysfs.hpp"
#include "sysfs_file.hpp"

namespace aether::vfio {
namespace {

constexpr std::string_view vfio_driver = "vfio-pci";

std::string state_file(const BindingOptions& options, const PciAddress& address) {
  return fmt::format("{}/{}", options.state_dir, address.to_string());
}

// Polls the driver link until `done(driver)` or the settle time is over;
// probing runs synchronously in the drivers_probe write for PCI, but
// asynchronous probing (driver_async_probe=) can delay it.
template <class Predicate>
std::string wait_for_driver(const PciSysfs& sysfs, const PciAddress& address, std::chrono::milliseconds settle_time,
                            Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + settle_time;
  for (;;) {
    std::string driver = detail::link_basename(sysfs.device_path(address) + "/driver").value_or("");
    if (done(driver) || std::chrono::steady_clock::now() >= deadline) return driver;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<void> remember_driver(const BindingOptions& options, const PciAddress& address, const std::string& driver) {
  std::error_code error;
  std::filesystem::create_directories(options.state_dir, error);
  if (error) return Error{error, fmt::format("cannot create the binding state directory {}", options.state_dir)};
  const std::string path = state_file(options, address);
  // A state file from an earlier bind that was never undone keeps the true
  // original driver; do not overwrite it with "vfio-pci" or "".
  if (detail::path_exists(path)) return {};
  std::FILE* file = std::fopen(path.c_str(), "we");  // 'e': O_CLOEXEC, no leak into a concurrent fork+exec
  if (file == nullptr) return errno_error(fmt::format("cannot write the binding state file {}", path));
  const bool written = std::fprintf(file, "%s\n", driver.c_str()) >= 0;
  if (std::fclose(file) != 0 || !written) return errno_error(fmt::format("cannot write the binding state file {}", path));
  return {};
}

// Warns about devices sharing the IOMMU group that still have a kernel
// driver: the group stays non-viable until they are bound too.
void warn_about_group(const PciSysfs& sysfs, const PciFunction& function) {
  if (!function.iommu_group) return;
  auto members = sysfs.iommu_group_members(*function.iommu_group);
  if (!members) return;
  for (const auto& member : *members) {
    if (member == function.address) continue;
    auto other = sysfs.read(member);
    if (other && !other->driver.empty() && other->driver != vfio_driver) {
      aether::log::warn("{} shares IOMMU group {} with {} (driver {}): VFIO cannot open the group until that device "
                        "is bound to vfio-pci too or has no driver",
                        function.address.to_string(), *function.iommu_group, member.to_string(), other->driver);
    }
  }
}

}  // namespace

Result<BindingChange> bind_to_vfio(const PciAddress& address, const BindingOptions& options) {
  PciSysfs sysfs(options.sysfs_root);
  auto function = sysfs.read(address);
  if (!function) return std::move(function).error();
  const std::string name = address.to_string();
  const std::string device_path = sysfs.device_path(address);
  if (!function->is_network()) {
    return invalid_argument(fmt::format("{} is not a network controller (class {:06x} in {}/class); Aether binds "
                                        "network devices only",
                                        name, function->class_code, device_path));
  }
  if (function->driver == vfio_driver) return BindingChange{function->driver, function->driver, false};
  if (!sysfs.vfio_pci_loaded()) {
    return invalid_argument(fmt::format("cannot bind {}: the vfio-pci driver is not loaded ({}/bus/pci/drivers/vfio-pci "
                                        "missing); run `modprobe vfio-pci`",
                                        name, options.sysfs_root));
  }
  if (!function->iommu_group) {
    return invalid_argument(fmt::format("cannot bind {}: it has no IOMMU group ({}/iommu_group missing); enable the "
                                        "IOMMU (intel_iommu=on or amd_iommu=on) and reboot",
                                        name, device_path));
  }
  for (const auto& netdev : function->netdevs) {
    auto usage = read_netdev_usage(netdev, options.sysfs_root, options.proc_root);
    if (!usage) return std::move(usage).error();
    if (usage->in_use() && !options.force) {
      return invalid_argument(fmt::format(
          "refusing to bind {}: its interface {} is up and carries {} route(s){}; taking it would cut this host off "
          "that network. Move the traffic elsewhere and `ip link set {} down`, or pass --force",
          name, netdev, usage->route_count, usage->default_route ? " including the default route" : "", netdev));
    }
  }

  auto remembered = remember_driver(options, address, function->driver);
  if (!remembered) return std::move(remembered).error();
  auto overridden = detail::write_text_file(device_path + "/driver_override", std::string(vfio_driver));
  if (!overridden) return std::move(overridden).error();
  if (!function->driver.empty()) {
    auto unbound = detail::write_text_file(device_path + "/driver/unbind", name);
    if (!unbound) return std::move(unbound).error();
  }
  auto probed = detail::write_text_file(options.sysfs_root + "/bus/pci/drivers_probe", name);
  if (!probed) return std::move(probed).error();
  const std::string driver =
      wait_for_driver(sysfs, address, options.settle_time, [](const std::string& d) { return d == vfio_driver; });
  if (driver != vfio_driver) {
    return invalid_argument(fmt::format("{} is bound to {} after writing vfio-pci to {}/driver_override and probing; "
                                        "see the kernel log (dmesg) for vfio-pci's reason, and `aether unbind {}` to undo",
                                        name, driver.empty() ? "no driver" : driver, device_path, name));
  }
  warn_about_group(sysfs, *function);
  return BindingChange{function->driver, driver, true};
}

Result<BindingChange> unbind_from_vfio(const PciAddress& address, const BindingOptions& options) {
  PciSysfs sysfs(options.sysfs_root);
  auto function = sysfs.read(address);
  if (!function) return std::move(function).error();
  const std::string name = address.to_string();
  const std::string device_path = sysfs.device_path(address);
  const std::string state_path = state_file(options, address);
  std::string original;
  bool original_known = false;
  if (auto text = detail::read_text_file(state_path)) {
    original = *text;
    original_known = true;
  }
  if (function->driver != vfio_driver && function->driver_override != vfio_driver) {
    std::error_code ignored;
    std::filesystem::remove(state_path, ignored);
    return BindingChange{function->driver, function->driver, false};
  }
  // An empty write (a lone newline) clears driver_override (sysfs-bus-pci).
  auto cleared = detail::write_text_file(device_path + "/driver_override", "\n");
  if (!cleared) return std::move(cleared).error();
  if (function->driver == vfio_driver) {
    auto unbound = detail::write_text_file(device_path + "/driver/unbind", name);
    if (!unbound) return std::move(unbound).error();
  }
  if (!original_known || !original.empty()) {
    auto probed = detail::write_text_file(options.sysfs_root + "/bus/pci/drivers_probe", name);
    if (!probed) return std::move(probed).error();
  }
  const std::string driver = wait_for_driver(sysfs, address, original_known ? options.settle_time : std::chrono::milliseconds(0),
                                             [&](const std::string& d) { return d == original; });
  if (original_known && driver != original) {
    return invalid_argument(fmt::format("{} went back to {} instead of its original driver {} (from {}); load that "
                                        "driver (modprobe {}) and run `aether unbind {}` again",
                                        name, driver.empty() ? "no driver" : driver, original, state_path, original,
                                        name));
  }
  std::error_code ignored;
  std::filesystem::remove(state_path, ignored);
  return BindingChange{function->driver, driver, true};
}

}  // namespace aether::vfio
