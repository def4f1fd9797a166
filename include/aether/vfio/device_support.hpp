// Whether Aether can drive a PCI network function, and whether it may be
// bound to vfio-pci now: the verdict `aether devices` prints and
// `aether bind` enforces.
#pragma once

#include <string>
#include <vector>

#include "aether/vfio/netdev_usage.hpp"
#include "aether/vfio/pci_sysfs.hpp"

namespace aether::vfio {

enum class DriverKind { none, virtio_net, e1000e };
[[nodiscard]] const char* to_string(DriverKind kind) noexcept;

// Which Aether driver matches the IDs: virtio-net modern 1af4:1041 or
// transitional 1af4:1000 (which QEMU exposes with the modern interface too
// unless disable-modern=on; the driver checks the capabilities), and the
// Intel 82574L 8086:10d3 (e1000e).
[[nodiscard]] DriverKind driver_for(std::uint16_t vendor, std::uint16_t device) noexcept;

struct SupportVerdict {
  DriverKind driver = DriverKind::none;
  bool bound_to_vfio = false;  // driver is vfio-pci already
  bool in_use = false;         // a netdev of it is up with routes
  bool bindable = false;       // `aether bind` would take it without --force
  std::string summary;         // one line: "yes (bound to vfio-pci)", "no: ..." etc.
};

[[nodiscard]] SupportVerdict assess_support(const PciFunction& function, const std::vector<NetdevUsage>& netdevs,
                                            bool iommu_present);

}  // namespace aether::vfio
