#include "aether/vfio/container.hpp"

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>

#include <cstdint>

namespace aether::vfio {

Container::Container(UniqueFd fd, std::string path)
    : fd_(std::move(fd)), path_(std::move(path)), description_(fmt::format("VFIO container {}", path_)) {}

Result<std::unique_ptr<Container>> Container::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    return errno_error(fmt::format("cannot open the VFIO container {}: load the modules (modprobe vfio-pci "
                                   "vfio_iommu_type1) and run as root or with access to it",
                                   path));
  }
  // vfio.rst: "ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION" -> unknown API.
  const int version = ::ioctl(fd.get(), VFIO_GET_API_VERSION);
  if (version != VFIO_API_VERSION) {
    return invalid_argument(
        fmt::format("{} reports VFIO API version {}, Aether speaks version {}", path, version, VFIO_API_VERSION));
  }
  // Type1v2 (Linux 3.x+) unmaps whole mappings only and has precise
  // unmap semantics; every x86 IOMMU (Intel VT-d, AMD-Vi) offers it.
  if (::ioctl(fd.get(), VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
    return invalid_argument(fmt::format("{} does not offer the type1v2 IOMMU backend: load vfio_iommu_type1 "
                                        "(modprobe vfio_iommu_type1) and check that the IOMMU is on (intel_iommu=on "
                                        "or amd_iommu=on on the kernel command line)",
                                        path));
  }
  return std::unique_ptr<Container>(new Container(std::move(fd), path));
}

Result<void> Container::set_iommu() {
  if (iommu_set_) return {};
  if (::ioctl(fd_.get(), VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) != 0) {
    return errno_error(fmt::format("VFIO_SET_IOMMU(type1v2) on {} failed", path_));
  }
  iommu_set_ = true;
  return {};
}

Result<void> Container::map_dma(const void* address, std::size_t length, std::uint64_t iova) {
  vfio_iommu_type1_dma_map map{};
  map.argsz = sizeof(map);
  map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  map.vaddr = reinterpret_cast<std::uintptr_t>(address);
  map.iova = iova;
  map.size = length;
  if (::ioctl(fd_.get(), VFIO_IOMMU_MAP_DMA, &map) != 0) {
    const int error = errno;
    return errno_error(fmt::format("VFIO_IOMMU_MAP_DMA of {} bytes at {} to IOVA {:#x} on {} failed{}", length, address,
                                   iova, path_,
                                   error == ENOMEM ? ": pinning exceeds RLIMIT_MEMLOCK (ulimit -l) or memory is short"
                                                   : ""),
                       error);
  }
  return {};
}

int Container::unmap_dma(std::uint64_t iova, std::size_t length) noexcept {
  vfio_iommu_type1_dma_unmap unmap{};
  unmap.argsz = sizeof(unmap);
  unmap.iova = iova;
  unmap.size = length;
  return ::ioctl(fd_.get(), VFIO_IOMMU_UNMAP_DMA, &unmap) == 0 ? 0 : errno;
}

}  // namespace aether::vfio
