// Group: a VFIO group (/dev/vfio/N), the unit of isolation the IOMMU can
// tell apart. All devices of an IOMMU group must be bound to vfio-pci (or to
// no driver) before the group is "viable"; attach() joins the group to a
// Container, and only then can its devices be opened.
#pragma once

#include <string>

#include "aether/core/result.hpp"
#include "aether/vfio/container.hpp"
#include "aether/vfio/pci_address.hpp"
#include "aether/vfio/unique_fd.hpp"

namespace aether::vfio {

class Group {
 public:
  // Opens <dev_root>/vfio/<number> and checks VFIO_GROUP_GET_STATUS for
  // VFIO_GROUP_FLAGS_VIABLE. A non-viable group's error names the other
  // devices of the group with their drivers (read from
  // <sysfs_root>/kernel/iommu_groups/<number>/devices) and what to do.
  [[nodiscard]] static Result<Group> open(unsigned number, const std::string& dev_root = "/dev",
                                          const std::string& sysfs_root = "/sys");

  // VFIO_GROUP_SET_CONTAINER, then (for the first group) VFIO_SET_IOMMU.
  // The container must outlive the group.
  [[nodiscard]] Result<void> attach(Container& container);

  // VFIO_GROUP_GET_DEVICE_FD for the device named by its BDF.
  [[nodiscard]] Result<UniqueFd> open_device(const PciAddress& address) const;

  [[nodiscard]] unsigned number() const noexcept { return number_; }
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  Group(UniqueFd fd, unsigned number, std::string path) : fd_(std::move(fd)), number_(number), path_(std::move(path)) {}

  UniqueFd fd_;
  unsigned number_ = 0;
  std::string path_;
};

}  // namespace aether::vfio
