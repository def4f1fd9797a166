// Whether Aether can drive a PCI network function, and whether it may be
// bound to vfio-pci now: the verdict `aether devices` prints and
// `aether bind` enforces.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aether/vfio/netdev_usage.hpp"
#include "aether/vfio/pci_sysfs.hpp"

namespace aether::vfio {

// Which driver drives a device is the driver table's business
// (aether/drivers/driver_table.hpp, keyed by PCI ID); this layer knows no
// driver. DriverKind and driver_for remain only for `aether vfio-probe`
// (apps/aether/cmd_vfio_probe.cpp, which the build branch moves into the
// guest tests' tooling): delete them when the probe asks the table.
enum class DriverKind { none, virtio_net, e1000e };
[[nodiscard]] DriverKind driver_for(std::uint16_t vendor, std::uint16_t device) noexcept;

struct SupportVerdict {
  std::string driver;          // the Aether driver's name, empty when there is none
  bool bound_to_vfio = false;  // driver is vfio-pci already
  bool in_use = false;         // a netdev of it is up with routes
  bool bindable = false;       // `aether bind` would take it without --force
  std::string summary;         // one line: "yes (bound to vfio-pci)", "no: ..." etc.
};

// driver: the name of the Aether driver for the function's IDs
// (drivers::find_driver), empty when Aether has none.
[[nodiscard]] SupportVerdict assess_support(const PciFunction& function, const std::vector<NetdevUsage>& netdevs,
                                            bool iommu_present, std::string_view driver);

}  // namespace aether::vfio
