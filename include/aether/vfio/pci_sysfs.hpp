// PciSysfs: what sysfs says about PCI functions (Documentation/ABI/testing/
// sysfs-bus-pci): class, vendor/device IDs, bound driver, driver_override,
// IOMMU group, NUMA node, network interfaces and the VFIO device cdev.
//
// Reads through an injectable root ("/sys" normally) so that unit tests can
// parse a fake tree made in a temporary directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/vfio/pci_address.hpp"

namespace aether::vfio {

struct PciFunction {
  PciAddress address;
  std::uint32_t class_code = 0;  // 24 bits: base class, subclass, prog-if
  std::uint16_t vendor = 0;
  std::uint16_t device = 0;
  std::string driver;            // bound driver's name, empty when none
  std::string driver_override;   // empty when not set ("(null)" in sysfs)
  std::optional<unsigned> iommu_group;
  int numa_node = -1;            // -1: no NUMA information
  std::vector<std::string> netdevs;  // <device>/net/* (kernel network interfaces)
  std::string vfio_cdev;         // "vfio0" from <device>/vfio-dev/, empty when none

  // PCI base class 0x02 = network controller (PCI Code and ID Assignment spec).
  [[nodiscard]] bool is_network() const noexcept { return (class_code >> 16) == 0x02; }
};

class PciSysfs {
 public:
  explicit PciSysfs(std::string root = "/sys") : root_(std::move(root)) {}

  // Every function under <root>/bus/pci/devices, sorted by address.
  [[nodiscard]] Result<std::vector<PciFunction>> list() const;
  [[nodiscard]] Result<PciFunction> read(const PciAddress& address) const;

  // BDFs in <root>/kernel/iommu_groups/<group>/devices.
  [[nodiscard]] Result<std::vector<PciAddress>> iommu_group_members(unsigned group) const;

  // An IOMMU is active when <root>/class/iommu has an entry or
  // <root>/kernel/iommu_groups has a group.
  [[nodiscard]] bool iommu_present() const;
  // <root>/bus/pci/drivers/vfio-pci exists (module loaded).
  [[nodiscard]] bool vfio_pci_loaded() const;

  [[nodiscard]] std::string device_path(const PciAddress& address) const;
  [[nodiscard]] const std::string& root() const noexcept { return root_; }

 private:
  std::string root_;
};

}  // namespace aether::vfio
