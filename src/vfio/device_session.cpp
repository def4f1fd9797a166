#include "aether/vfio/device_session.hpp"

#include <fcntl.h>

#include <cstdlib>
#include <string_view>

#include "aether/core/log.hpp"
#include "aether/vfio/pci_sysfs.hpp"
#include "sysfs_file.hpp"

namespace aether::vfio {

const char* to_string(KernelInterface interface) noexcept {
  return interface == KernelInterface::device_cdev ? "iommufd + VFIO device cdev" : "VFIO container/group";
}

namespace {

// What AETHER_VFIO_INTERFACE asks for: "auto" (or unset) lets open() choose,
// "container" forces the container/group path, "cdev" requires the device
// cdev path (an error instead of a fallback when it is missing).
enum class InterfaceRequest { automatic, container_group, device_cdev };

Result<InterfaceRequest> interface_request_from_environment() {
  const char* value = std::getenv("AETHER_VFIO_INTERFACE");
  const std::string_view text = value == nullptr ? "" : value;
  if (text.empty() || text == "auto") return InterfaceRequest::automatic;
  if (text == "container") return InterfaceRequest::container_group;
  if (text == "cdev") return InterfaceRequest::device_cdev;
  return invalid_argument(
      fmt::format("AETHER_VFIO_INTERFACE={} is not one of auto, container, cdev: fix or unset it", text));
}

}  // namespace

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

  auto request = interface_request_from_environment();
  if (!request) return std::move(request).error();
  const bool allow_device_cdev = options.allow_device_cdev && *request != InterfaceRequest::container_group;
  const std::string iommu_path = options.dev_root + "/iommu";
  // <device>/vfio-dev/vfioN exists in sysfs on every kernel with vfio-pci
  // bound (the vfio-dev class device); only CONFIG_VFIO_DEVICE_CDEV adds
  // the character device /dev/vfio/devices/vfioN, so look for that.
  const std::string cdev_path =
      function->vfio_cdev.empty() ? std::string() : fmt::format("{}/vfio/devices/{}", options.dev_root, function->vfio_cdev);
  const bool have_iommufd = detail::path_exists(iommu_path);
  const char* no_cdev_reason = !have_iommufd ? " missing (kernel without IOMMUFD)"
                               : cdev_path.empty() || !detail::path_exists(cdev_path)
                                   ? ": present, but the device has no /dev/vfio/devices/vfioN "
                                     "(kernel without VFIO_DEVICE_CDEV)"
                                   : nullptr;
  if (*request == InterfaceRequest::device_cdev && no_cdev_reason != nullptr) {
    return invalid_argument(fmt::format("{}: AETHER_VFIO_INTERFACE=cdev, but {}{}: use a kernel with CONFIG_IOMMUFD "
                                        "and CONFIG_VFIO_DEVICE_CDEV (Linux >= 6.6) or unset it",
                                        name, iommu_path, no_cdev_reason));
  }
  if (allow_device_cdev && no_cdev_reason == nullptr) {
    UniqueFd device_fd(::open(cdev_path.c_str(), O_RDWR | O_CLOEXEC));
    if (!device_fd.valid()) return errno_error(fmt::format("cannot open the VFIO device cdev {} of {}", cdev_path, name));
    auto iommufd = Iommufd::open(iommu_path);
    if (!iommufd) return std::move(iommufd).error();
    auto attached = (*iommufd)->attach_device(device_fd.get(), fmt::format("{} ({})", name, cdev_path));
    if (!attached) {
      // The bind claims DMA ownership of the whole IOMMU group, which fails
      // with EPERM while another device of the group has a kernel driver
      // (its owner is the kernel's DMA API), or EBUSY when the group is
      // attached elsewhere (drivers/iommu/iommu.c,
      // iommu_device_claim_dma_owner). The group's viability check names
      // those devices and what to do; the failed bind left the group free
      // to open for that check.
      const auto& code = attached.error().code;
      if ((code == std::errc::operation_not_permitted || code == std::errc::device_or_resource_busy) &&
          function->iommu_group) {
        device_fd.reset();
        auto group = Group::open(*function->iommu_group, options.dev_root, options.sysfs_root);
        if (!group) return std::move(group).error();
      }
      return std::move(attached).error();
    }
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
    const std::string why = !allow_device_cdev
                                ? (options.allow_device_cdev ? "AETHER_VFIO_INTERFACE=container" : "the caller asked for it")
                                : "no device cdev path: " + iommu_path + no_cdev_reason;
    aether::log::info("{}: using {} (group {}); {}", name, to_string(session->interface_), *function->iommu_group,
                      why);
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
