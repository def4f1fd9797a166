#include "aether/vfio/iommufd.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>

#include "aether/vfio/uapi.hpp"

namespace aether::vfio {

Result<std::unique_ptr<Iommufd>> Iommufd::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    return errno_error(fmt::format("cannot open {} (kernel needs CONFIG_IOMMUFD, Linux >= 6.2)", path));
  }
  uapi::IommuIoasAlloc alloc{};
  alloc.size = sizeof(alloc);
  if (::ioctl(fd.get(), uapi::iommu_ioas_alloc_ioctl, &alloc) != 0) {
    return errno_error(fmt::format("IOMMU_IOAS_ALLOC on {} failed", path));
  }
  return std::unique_ptr<Iommufd>(
      new Iommufd(std::move(fd), alloc.out_ioas_id, fmt::format("iommufd {} IOAS {}", path, alloc.out_ioas_id)));
}

Iommufd::~Iommufd() {
  if (!fd_.valid()) return;
  // Closing the iommufd destroys every object in it too; destroying the
  // IOAS first only makes a leak visible (EBUSY) while debugging.
  uapi::IommuDestroy destroy{};
  destroy.size = sizeof(destroy);
  destroy.id = ioas_id_;
  (void)::ioctl(fd_.get(), uapi::iommu_destroy_ioctl, &destroy);
}

Result<void> Iommufd::attach_device(int device_fd, const std::string& device_name) {
  uapi::VfioDeviceBindIommufd bind{};
  bind.argsz = sizeof(bind);
  bind.iommufd = fd_.get();
  if (::ioctl(device_fd, uapi::vfio_device_bind_iommufd_ioctl, &bind) != 0) {
    return errno_error(fmt::format("VFIO_DEVICE_BIND_IOMMUFD of {} to {} failed", device_name, description_));
  }
  uapi::VfioDeviceAttachIommufdPt attach{};
  attach.argsz = sizeof(attach);
  attach.pt_id = ioas_id_;
  if (::ioctl(device_fd, uapi::vfio_device_attach_iommufd_pt_ioctl, &attach) != 0) {
    return errno_error(fmt::format("VFIO_DEVICE_ATTACH_IOMMUFD_PT of {} to {} failed", device_name, description_));
  }
  return {};
}

Result<void> Iommufd::map_dma(const void* address, std::size_t length, std::uint64_t iova) {
  uapi::IommuIoasMap map{};
  map.size = sizeof(map);
  map.flags = uapi::iommu_ioas_map_fixed_iova | uapi::iommu_ioas_map_readable | uapi::iommu_ioas_map_writeable;
  map.ioas_id = ioas_id_;
  map.user_va = reinterpret_cast<std::uintptr_t>(address);
  map.length = length;
  map.iova = iova;
  if (::ioctl(fd_.get(), uapi::iommu_ioas_map_ioctl, &map) != 0) {
    return errno_error(
        fmt::format("IOMMU_IOAS_MAP of {} bytes at {} to IOVA {:#x} on {} failed", length, address, iova, description_));
  }
  return {};
}

int Iommufd::unmap_dma(std::uint64_t iova, std::size_t length) noexcept {
  uapi::IommuIoasUnmap unmap{};
  unmap.size = sizeof(unmap);
  unmap.ioas_id = ioas_id_;
  unmap.iova = iova;
  unmap.length = length;
  return ::ioctl(fd_.get(), uapi::iommu_ioas_unmap_ioctl, &unmap) == 0 ? 0 : errno;
}

}  // namespace aether::vfio
