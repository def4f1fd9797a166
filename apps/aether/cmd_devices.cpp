// `aether devices`, `aether bind BDF [--force]`, `aether unbind BDF`: which
// PCI network devices this host has, whether Aether can drive them, and
// handing one to vfio-pci and back (src/vfio/driver_binding.cpp).
#include <fmt/format.h>

#include "aether/drivers/driver_table.hpp"
#include "aether/vfio/device_support.hpp"
#include "aether/vfio/driver_binding.hpp"
#include "aether/vfio/netdev_usage.hpp"
#include "aether/vfio/pci_sysfs.hpp"
#include "commands.hpp"

namespace aether::cli {
namespace {

struct DevicesOptions {
  std::string sysfs_root = "/sys";
  std::string proc_root = "/proc";
  bool all = false;  // every PCI function, not only network controllers
};

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text.empty() ? "-" : text;
}

int run_devices(const DevicesOptions& options) {
  vfio::PciSysfs sysfs(options.sysfs_root);
  auto functions = sysfs.list();
  if (!functions) {
    fmt::print(stderr, "aether devices: {}\n", functions.error().describe());
    return exit_failure;
  }
  const bool iommu = sysfs.iommu_present();
  fmt::print("IOMMU: {}; vfio-pci driver: {}\n", iommu ? "active" : "not active (no IOMMU groups)",
             sysfs.vfio_pci_loaded() ? "loaded" : "not loaded (modprobe vfio-pci)");
  fmt::print("{:<13} {:<9} {:<7} {:<12} {:<5} {:<4} {:<14} {}\n", "PCI address", "vendor:id", "class", "driver",
             "group", "numa", "netdev", "Aether can drive it");
  unsigned shown = 0;
  for (const auto& function : *functions) {
    if (!function.is_network() && !options.all) continue;
    std::vector<vfio::NetdevUsage> usages;
    for (const auto& netdev : function.netdevs) {
      if (auto usage = vfio::read_netdev_usage(netdev, options.sysfs_root, options.proc_root)) {
        usages.push_back(std::move(*usage));
      }
    }
    const drivers::Driver* driver = drivers::find_driver(function.vendor, function.device);
    const auto verdict = vfio::assess_support(function, usages, iommu, driver != nullptr ? driver->name : "");
    fmt::print("{:<13} {:04x}:{:04x} {:06x}  {:<12} {:<5} {:<4} {:<14} {}\n", function.address.to_string(),
               function.vendor, function.device, function.class_code,
               function.driver.empty() ? "-" : function.driver,
               function.iommu_group ? std::to_string(*function.iommu_group) : "-", function.numa_node,
               join(function.netdevs), function.is_network() ? verdict.summary : "not a network controller");
    ++shown;
  }
  if (shown == 0) fmt::print("(no PCI network controllers found under {}/bus/pci/devices)\n", options.sysfs_root);
  return exit_ok;
}

int run_bind(const std::string& text, const vfio::BindingOptions& options, bool bind) {
  const char* command = bind ? "bind" : "unbind";
  auto address = vfio::PciAddress::parse(text);
  if (!address) {
    fmt::print(stderr, "aether {}: {}\n", command, address.error().describe());
    return exit_failure;
  }
  auto change = bind ? vfio::bind_to_vfio(*address, options) : vfio::unbind_from_vfio(*address, options);
  if (!change) {
    fmt::print(stderr, "aether {}: {}\n", command, change.error().describe());
    return exit_failure;
  }
  const auto driver_name = [](const std::string& driver) { return driver.empty() ? std::string("no driver") : driver; };
  if (!change->changed) {
    fmt::print("{}: already on {}, nothing to do\n", address->to_string(), driver_name(change->current_driver));
  } else {
    fmt::print("{}: {} -> {}\n", address->to_string(), driver_name(change->previous_driver),
               driver_name(change->current_driver));
  }
  return exit_ok;
}

}  // namespace

void register_devices(CLI::App& app, int& exit_code) {
  static DevicesOptions devices_options;
  CLI::App* devices = app.add_subcommand("devices", "List PCI network devices and whether Aether can drive them");
  devices->add_flag("--all", devices_options.all, "Show every PCI function, not only network controllers");
  devices->add_option("--sysfs-root", devices_options.sysfs_root, "Read sysfs from this directory (testing)");
  devices->add_option("--proc-root", devices_options.proc_root, "Read procfs from this directory (testing)");
  devices->callback([&exit_code] { exit_code = run_devices(devices_options); });

  static vfio::BindingOptions binding_options;
  static std::string bind_address;
  CLI::App* bind = app.add_subcommand("bind", "Hand a PCI network device to vfio-pci (driver_override)");
  bind->add_option("BDF", bind_address, "PCI address, e.g. 0000:00:03.0")->required();
  bind->add_flag("--force", binding_options.force, "Take it even if its interface is up and carries routes");
  bind->add_option("--state-dir", binding_options.state_dir, "Where the original driver is remembered");
  bind->callback([&exit_code] { exit_code = run_bind(bind_address, binding_options, true); });

  CLI::App* unbind = app.add_subcommand("unbind", "Give a device bound with `aether bind` back to its kernel driver");
  unbind->add_option("BDF", bind_address, "PCI address, e.g. 0000:00:03.0")->required();
  unbind->add_option("--state-dir", binding_options.state_dir, "Where the original driver is remembered");
  unbind->callback([&exit_code] { exit_code = run_bind(bind_address, binding_options, false); });
}

}  // namespace aether::cli
