#include "aether/vfio/device_session.hpp"

#include <fcntl.h>

#include <dirent.h>

#include "aether/core/log.hpp"
#include "aether/vfio/pci_sysfs.hpp"
#include "sysfs_file.hpp"

namespace aether::vfio {

const char* to_string(KernelInterface interface) noexcept {
  return interface == KernelInterface::device_cdev ? "iommufd + VFIO device cdev" : "VFIO container/group";
}

IoAddressSpace& DeviceSession::address_space() noexcept {
  if (iommufd_) return *iommufd_;
  return *container_;
}

Result<std::unique_ptr<DeviceSession>> DeviceSession::open(const PciAddress& address, const SessionOptions& options) {
  const std::string name = address.to_string();
  PciSysfs sysfs(options.sysfs_root);
  auto function = sysfs.read(address);
  if (!function) return std::move(function).error();
  if (function->driver != "vfio-pci") {
    return invalid_argument(fmt::format("{} is bound to {}, not vfio-pci: run `aether bind {}` first", name,
                                        function->driver.empty() ? "no driver" : function->driver, name));
  }
  std::unique_ptr<DeviceSession> session(new DeviceSession());
  session->address_ = address;
  session->reset_on_close_ = options.reset_on_close;

  const std::string iommu_path = options.dev_root + "/iommu";
  const bool cdev_possible =
      options.allow_device_cdev && !function->vfio_cdev.empty() && detail::path_exists(iommu_path);
  if (cdev_possible) {
    const std::string cdev_path = fmt::format("{}/vfio/devices/{}", options.dev_root, function->vfio_cdev);
    UniqueFd device_fd(::open(cdev_path.c_str(), O_RDWR | O_CLOEXEC));
    if (!device_fd.valid()) return errno_error(fmt::format("cannot open the VFIO device cdev {} of {}", cdev_path, name));
    auto iommufd = Iommufd::open(iommu_path);
    if (!iommufd) return std::move(iommufd).error();
    auto attached = (*iommufd)->attach_device(device_fd.get(), fmt::format("{} ({})", name, cdev_path));
    if (!attached) return std::move(attached).error();
    session->iommufd_ = std::move(*iommufd);
    session->device_.emplace(std::move(device_fd), name);
    session->interface_ = KernelInterface::device_cdev;
    aether::log::info("{}: using {} ({}, {})", name, to_string(session->interface_), cdev_path, iommu_path);
  } else {
    if (!function->iommu_group) {
      return invalid_argument(fmt::format("{} has no IOMMU group ({}/iommu_group missing): enable the IOMMU "
                                          "(intel_iommu=on or amd_iommu=on) and reboot",
                                          name, sysfs.device_path(address)));
    }
    auto container = Container::open(options.dev_root + "/vfio/vfio");
    if (!container) return std::move(container).error();
    auto group = Group::open(*function->iommu_group, options.dev_root, options.sysfs_root);
    if (!group) return std::move(group).error();
    auto attached = group->attach(**container);
    if (!attached) return std::move(attached).error();
    auto device_fd = group->open_device(address);
    if (!device_fd) return std::move(device_fd).error();
    session->container_ = std::move(*container);
    session->group_.emplace(std::move(*group));
    session->device_.emplace(std::move(*device_fd), name);
    session->interface_ = KernelInterface::container_group;
    aether::log::info("{}: using {} (group {}){}", name, to_string(session->interface_), *function->iommu_group,
                      options.allow_device_cdev ? fmt::format("; no device cdev path: {}",
                                                              detail::path_exists(iommu_path)
                                                                  ? "the device has no vfio-dev cdev"
                                                                  : iommu_path + " missing (kernel without IOMMUFD)")
                                                : "");
  }

  if (options.reset_on_open) {
    auto info = session->device_->info();
    if (!info) return std::move(info).error();
    if (info->supports_reset()) {
      auto reset = session->device_->reset();
      if (!reset) return std::move(reset).error();
    } else {
      aether::log::warn("{}: the device offers no reset (VFIO_DEVICE_FLAGS_RESET clear); the driver must reset it "
                        "through its own registers",
                        name);
    }
  }
  return session;
}

DeviceSession::~DeviceSession() {
  if (device_ && reset_on_close_) {
    // Stop all DMA before the mappings and the container go away.
    auto info = device_->info();
    if (info && info->supports_reset()) {
      if (auto reset = device_->reset(); !reset) aether::log::warn("{}", reset.error().describe());
    }
  }
}

}  // namespace aether::vfio
