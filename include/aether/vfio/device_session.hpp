// DeviceSession: one PCI device opened through VFIO, with the IO address
// space its DMA mappings go into. Chooses the kernel interface once and
// logs the choice:
//   - iommufd + device cdev when /dev/iommu exists and the device's
//     <sysfs>/bus/pci/devices/<BDF>/vfio-dev/vfioN has its character device
//     /dev/vfio/devices/vfioN (Linux >= 6.6 with CONFIG_IOMMUFD and
//     CONFIG_VFIO_DEVICE_CDEV; the sysfs entry alone exists without them);
//   - otherwise the container/group path (/dev/vfio/vfio, /dev/vfio/<group>).
// AETHER_VFIO_INTERFACE overrides the choice for every program: "container"
// forces the container/group path, "cdev" requires the cdev path (an error
// saying why when the kernel or device lacks it), "auto" or unset chooses as
// above; any other value is an error.
// The device is reset on open and again when the session ends (before its
// fd, group and container close), so the device stops DMA before Aether's
// memory goes away.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "aether/core/result.hpp"
#include "aether/vfio/container.hpp"
#include "aether/vfio/device.hpp"
#include "aether/vfio/group.hpp"
#include "aether/vfio/io_address_space.hpp"
#include "aether/vfio/iommufd.hpp"
#include "aether/vfio/pci_address.hpp"

namespace aether::vfio {

enum class KernelInterface { device_cdev, container_group };
[[nodiscard]] const char* to_string(KernelInterface interface) noexcept;

struct SessionOptions {
  std::string sysfs_root = "/sys";
  std::string dev_root = "/dev";
  // false: always use the container/group path (e.g. to compare the two).
  bool allow_device_cdev = true;
  bool reset_on_open = true;
  bool reset_on_close = true;
};

class DeviceSession {
 public:
  // Errors name the device, the file and what to do (bind it with
  // `aether bind BDF`, load vfio-pci, bind the rest of its IOMMU group...).
  [[nodiscard]] static Result<std::unique_ptr<DeviceSession>> open(const PciAddress& address,
                                                                  const SessionOptions& options = {});
  ~DeviceSession();
  DeviceSession(const DeviceSession&) = delete;
  DeviceSession& operator=(const DeviceSession&) = delete;

  [[nodiscard]] Device& device() noexcept { return *device_; }
  [[nodiscard]] IoAddressSpace& address_space() noexcept;
  [[nodiscard]] KernelInterface kernel_interface() const noexcept { return interface_; }
  [[nodiscard]] const PciAddress& address() const noexcept { return address_; }

 private:
  DeviceSession() = default;

  // Declaration order is the reverse of cleanup order: the device fd closes
  // first, then the group, then the container or iommufd.
  PciAddress address_;
  KernelInterface interface_ = KernelInterface::container_group;
  bool reset_on_close_ = true;
  std::unique_ptr<Container> container_;
  std::unique_ptr<Iommufd> iommufd_;
  std::optional<Group> group_;
  std::optional<Device> device_;
};

}  // namespace aether::vfio
