// `aether-vfio-probe BDF`: see vfio_probe.hpp; its main().
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <array>

#include <linux/vfio.h>

#include "aether/drivers/e1000e/device_reset.hpp"
#include "aether/drivers/virtio_net/common_config.hpp"
#include "aether/drivers/virtio_net/device_config.hpp"
#include "aether/drivers/virtio_net/pci_capabilities.hpp"
#include "aether/vfio/device_session.hpp"
#include "aether/vfio/device_support.hpp"
#include "aether/vfio/msix.hpp"
#include "aether/vfio/pci_sysfs.hpp"
#include "vfio_probe.hpp"

namespace aether::vfio_probe {
namespace {

struct ProbeOptions {
  std::string address;
  std::uint64_t iova = 0x10000000;  // 256 MiB: clear of the x86 IOAPIC/MSI window at 0xfee00000
  bool container_only = false;
  bool send_arp = false;
  bool fault_test = false;
  double hold_seconds = 0;
};

template <class T>
bool check(const Result<T>& result, const char* step) {
  if (result) return true;
  fmt::print(stderr, "aether-vfio-probe: {}: {}\n", step, result.error().describe());
  return false;
}

int run_probe(const ProbeOptions& options) {
  auto address = vfio::PciAddress::parse(options.address);
  if (!check(address, "address")) return exit_failure;
  vfio::SessionOptions session_options;
  session_options.allow_device_cdev = !options.container_only;
  auto session = vfio::DeviceSession::open(*address, session_options);
  if (!check(session, "open")) return exit_failure;
  vfio::Device& device = (*session)->device();
  fmt::print("interface: {}\n", vfio::to_string((*session)->kernel_interface()));

  auto info = device.info();
  if (!check(info, "device info")) return exit_failure;
  fmt::print("device: flags {:#x} regions {} irqs {} reset {}\n", info->flags, info->region_count, info->irq_count,
             info->supports_reset() ? "yes" : "no");
  for (std::uint32_t index = 0; index < info->region_count && index <= VFIO_PCI_CONFIG_REGION_INDEX; ++index) {
    auto region = device.region_info(index);
    if (!check(region, "region info")) return exit_failure;
    if (region->size == 0) continue;
    fmt::print("region {}: size {:#x} offset {:#x} flags {}{}{}\n", index, region->size, region->offset,
               region->readable() ? "r" : "-", region->writable() ? "w" : "-", region->mappable() ? "m" : "-");
  }

  // Config space must agree with sysfs: proves reads go to the device.
  auto ids = device.read_config_u32(0);
  if (!check(ids, "config read")) return exit_failure;
  auto sysfs_view = vfio::PciSysfs().read(*address);
  if (!check(sysfs_view, "sysfs")) return exit_failure;
  const auto vendor = static_cast<std::uint16_t>(*ids & 0xffff);
  const auto device_id = static_cast<std::uint16_t>(*ids >> 16);
  fmt::print("config: vendor:device {:04x}:{:04x} (sysfs {:04x}:{:04x}) {}\n", vendor, device_id, sysfs_view->vendor,
             sysfs_view->device,
             vendor == sysfs_view->vendor && device_id == sysfs_view->device ? "match" : "MISMATCH");
  if (vendor != sysfs_view->vendor || device_id != sysfs_view->device) return exit_failure;
  if (!check(device.enable_bus_master(), "bus master enable")) return exit_failure;
  auto command = device.read_config_u16(4);
  if (!check(command, "config read")) return exit_failure;
  fmt::print("config: command register {:#06x} (bus master {})\n", *command, (*command & 4) != 0 ? "on" : "off");

  if (vfio::driver_for(vendor, device_id) == vfio::DriverKind::virtio_net) {
    std::array<std::byte, drivers::virtio_net::pci_config_space_size> config{};
    if (!check(device.read_config(0, config), "config read")) return exit_failure;
    auto layout = drivers::virtio_net::parse_virtio_capabilities(config, device.name());
    if (!check(layout, "virtio capabilities")) return exit_failure;
    // Every structure must lie inside its BAR (virtio 1.2, 4.1.4: offset and
    // length are within the BAR).
    bool inside = true;
    for (const auto* location : {&layout->common, &layout->notify, layout->device ? &*layout->device : nullptr}) {
      if (location == nullptr) continue;
      auto bar = device.region_info(location->bar);
      inside = inside && bar && std::uint64_t{location->offset} + location->length <= bar->size;
    }
    fmt::print("virtio: {}; {}\n", layout->describe(), inside ? "inside their BARs" : "OUTSIDE their BARs");
    if (!inside) return exit_failure;
    // Bring the device as far as FEATURES_OK (virtio 1.2, 3.1.1 steps 1-6)
    // through the mapped BAR, read its MAC and link status, and reset it:
    // proves BAR access reaches the device registers.
    auto common_bar = device.map_bar(layout->common.bar);
    if (!check(common_bar, "BAR mmap")) return exit_failure;
    const drivers::virtio_net::CommonConfig common(common_bar->base() + layout->common.offset, device.name());
    const std::uint64_t offered = common.device_features();
    auto features = common.negotiate(/*behind_iommu=*/true);
    if (!check(features, "virtio feature negotiation")) return exit_failure;
    fmt::print("virtio: device offers {:#018x}, driver accepted {} ({:#x}); FEATURES_OK kept; {} queues\n", offered,
               features->description, features->accepted, common.queue_count());
    if (layout->device) {
      vfio::BarMapping device_bar;
      volatile std::byte* device_config = nullptr;
      if (layout->device->bar == layout->common.bar) {
        device_config = common_bar->base() + layout->device->offset;
      } else {
        auto mapped = device.map_bar(layout->device->bar);
        if (!check(mapped, "BAR mmap")) return exit_failure;
        device_bar = std::move(*mapped);
        device_config = device_bar.base() + layout->device->offset;
      }
      auto read = drivers::virtio_net::read_net_config(common, {device_config, layout->device->length},
                                                       features->accepted);
      if (!check(read, "virtio device configuration")) return exit_failure;
      const auto& net = *read;
      fmt::print("virtio: mac {} link {}\n", net.has_mac ? net.mac_text() : "(not offered)",
                 !net.has_status ? "(no status)" : net.link_up ? "up" : "down");
      if (options.fault_test) {
        const int result = run_virtio_arp(device, (*session)->address_space(), *layout, common, *common_bar, net.mac,
                                          options.iova + 0x10000000, options.fault_test);
        if (result != exit_ok) return result;
      }
    }
    if (!check(common.reset(), "virtio reset")) return exit_failure;
    fmt::print("virtio: reset through device_status\n");
  }

  if (vfio::driver_for(vendor, device_id) == vfio::DriverKind::e1000e) {
    auto bar0 = device.map_bar(0);
    if (!check(bar0, "BAR mmap")) return exit_failure;
    auto link = drivers::e1000e::reset_and_link_up(bar0->base(), device.name());
    if (!check(link, "e1000e reset")) return exit_failure;
    fmt::print("e1000e: reset, interrupts masked, {}\n", link->describe());
  }

  bool mapped_a_bar = false;
  for (unsigned bar = 0; bar < 6 && !mapped_a_bar; ++bar) {
    auto region = device.region_info(bar);
    if (!region || region->size == 0 || !region->mappable()) continue;
    auto mapping = device.map_bar(bar);
    if (!check(mapping, "BAR mmap")) return exit_failure;
    const std::uint32_t first_word = *reinterpret_cast<volatile std::uint32_t*>(mapping->base());
    fmt::print("bar {}: mapped {:#x} bytes, first 32-bit word {:#010x}\n", bar, mapping->length(), first_word);
    mapped_a_bar = true;
  }
  if (!mapped_a_bar) fmt::print("bar: no mappable BAR\n");

  {
    auto mapped = map_probe_region((*session)->address_space(), options.iova, "aether-vfio-probe");
    if (!check(mapped, "DMA map")) return exit_failure;
    fmt::print("dma: mapped {:#x} bytes at IOVA {:#x} in {}\n", mapped->mapping.length(), mapped->mapping.iova(),
               (*session)->address_space().describe());
  }
  fmt::print("dma: unmapped\n");

  auto msix = device.irq_info(VFIO_PCI_MSIX_IRQ_INDEX);
  if (!check(msix, "MSI-X info")) return exit_failure;
  if (msix->count > 0) {
    auto vectors = vfio::MsixVectors::enable(device, 1);
    if (!check(vectors, "MSI-X")) return exit_failure;
    fmt::print("msix: {} vectors offered, 1 routed to eventfd {}\n", msix->count, vectors->eventfd(0));
  } else {
    fmt::print("msix: none offered\n");
  }
  if (info->supports_reset()) {
    if (!check(device.reset(), "reset")) return exit_failure;
    fmt::print("reset: done\n");
  } else {
    // QEMU's virtio-net-pci has no FLR; virtio drivers reset through
    // device_status = 0 (virtio 1.2, 4.1.4.3.1).
    fmt::print("reset: not offered by the device (the driver resets it through its registers)\n");
  }
  if (options.send_arp && vfio::driver_for(vendor, device_id) == vfio::DriverKind::e1000e) {
    // The port opens its own session, and a group opens once at a time:
    // close the probe's first.
    (*session).reset();
    const int result = run_e1000e_arp(*address, options.hold_seconds);
    if (result != exit_ok) return result;
  }
  if (options.send_arp && !options.fault_test &&
      vfio::driver_for(vendor, device_id) == vfio::DriverKind::virtio_net) {
    (*session).reset();  // the port opens its own session
    const int result = run_virtio_port_arp(*address, options.hold_seconds);
    if (result != exit_ok) return result;
  }
  fmt::print("vfio-probe: OK\n");
  return exit_ok;
}

}  // namespace

}  // namespace aether::vfio_probe

int main(int argc, char** argv) {
  using namespace aether::vfio_probe;
  CLI::App app{"aether-vfio-probe: open a vfio-pci device and exercise the VFIO layer (guest tests, diagnosis)"};
  ProbeOptions options;
  app.add_option("BDF", options.address, "PCI address bound to vfio-pci")->required();
  app.add_option("--iova", options.iova, "IOVA of the test DMA mapping");
  app.add_flag("--container", options.container_only, "Use the container/group path even if the cdev path exists");
  app.add_flag("--send-arp", options.send_arp,
               "Send an ARP request for 10.0.2.2 through the device's vfio: port and wait for the reply");
  app.add_option("--hold", options.hold_seconds,
                 "With --send-arp: keep the port polling this many seconds, reporting a device fault");
  app.add_flag("--fault-test", options.fault_test,
               "virtio-net: as --send-arp, with receive buffers at unmapped IOVAs (expects an IOMMU fault)");
  CLI11_PARSE(app, argc, argv);
  return run_probe(options);
}
