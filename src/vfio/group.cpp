#include "aether/vfio/group.hpp"

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>

#include "aether/vfio/pci_sysfs.hpp"

namespace aether::vfio {
namespace {

// "0000:00:02.0 (e1000e), 0000:00:02.1 (no driver)" for the members of the
// group that are not this device's concern, i.e. all of them: the user
// needs the full picture to decide.
std::string describe_members(const std::string& sysfs_root, unsigned number) {
  PciSysfs sysfs(sysfs_root);
  auto members = sysfs.iommu_group_members(number);
  if (!members) return fmt::format("(cannot list them: {})", members.error().describe());
  std::string text;
  for (const auto& member : *members) {
    auto function = sysfs.read(member);
    const std::string driver = function ? (function->driver.empty() ? "no driver" : function->driver) : "unreadable";
    if (!text.empty()) text += ", ";
    text += fmt::format("{} ({})", member.to_string(), driver);
  }
  return text;
}

}  // namespace

Result<Group> Group::open(unsigned number, const std::string& dev_root, const std::string& sysfs_root) {
  const std::string path = fmt::format("{}/vfio/{}", dev_root, number);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    const int error = errno;
    return errno_error(fmt::format("cannot open VFIO group {}: {}", path,
                                   error == ENOENT  ? "no device of this IOMMU group is bound to vfio-pci (aether bind BDF)"
                                   : error == EBUSY ? "another process (or this one) has it open already"
                                                    : "run as root or give this user the group file"),
                       error);
  }
  vfio_group_status status{};
  status.argsz = sizeof(status);
  if (::ioctl(fd.get(), VFIO_GROUP_GET_STATUS, &status) != 0) {
    return errno_error(fmt::format("VFIO_GROUP_GET_STATUS on {} failed", path));
  }
  // vfio.rst: "Group is not viable (ie, not all devices bound for vfio)".
  if ((status.flags & VFIO_GROUP_FLAGS_VIABLE) == 0) {
    return invalid_argument(fmt::format(
        "IOMMU group {} is not viable: every device in it must be bound to vfio-pci or to no driver before any "
        "can be used; its devices: {}. Bind the others too (aether bind BDF --force for each), or move the NIC to "
        "a slot with its own IOMMU group (check ACS support of the bridge above it)",
        number, describe_members(sysfs_root, number)));
  }
  return Group(std::move(fd), number, path);
}

Result<void> Group::attach(Container& container) {
  int container_fd = container.fd();
  if (::ioctl(fd_.get(), VFIO_GROUP_SET_CONTAINER, &container_fd) != 0) {
    return errno_error(fmt::format("VFIO_GROUP_SET_CONTAINER({}) on {} failed", container.path(), path_));
  }
  return container.set_iommu();
}

Result<UniqueFd> Group::open_device(const PciAddress& address) const {
  const std::string name = address.to_string();
  UniqueFd fd(::ioctl(fd_.get(), VFIO_GROUP_GET_DEVICE_FD, name.c_str()));
  if (!fd.valid()) {
    return errno_error(fmt::format("VFIO_GROUP_GET_DEVICE_FD({}) on {} failed: is the device in this group "
                                   "and not already open?",
                                   name, path_));
  }
  return fd;
}

}  // namespace aether::vfio
