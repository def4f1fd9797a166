// Container: the legacy VFIO container (/dev/vfio/vfio), the IOMMU context
// that groups join (Documentation/driver-api/vfio.rst, "VFIO Usage Example").
//
// Sequence: open() checks VFIO_GET_API_VERSION == VFIO_API_VERSION and that
// the type1v2 IOMMU backend exists; a Group joins with Group::attach();
// only then set_iommu() selects VFIO_TYPE1v2_IOMMU (the kernel refuses
// SET_IOMMU on a container without a group). DMA mappings go through the
// IoAddressSpace interface (VFIO_IOMMU_MAP_DMA / UNMAP_DMA).
//
// Heap-allocated (open() returns a unique_ptr) because DmaMapping and Group
// keep its address.
#pragma once

#include <memory>
#include <string>

#include "aether/core/result.hpp"
#include "aether/vfio/io_address_space.hpp"
#include "aether/vfio/unique_fd.hpp"

namespace aether::vfio {

class Container final : public IoAddressSpace {
 public:
  // Errors: the file cannot be opened (vfio module not loaded, permissions),
  // the API version differs, or type1v2 is not offered.
  [[nodiscard]] static Result<std::unique_ptr<Container>> open(const std::string& path = "/dev/vfio/vfio");

  // VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU); call after the first group joined.
  [[nodiscard]] Result<void> set_iommu();

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  [[nodiscard]] Result<void> map_dma(const void* address, std::size_t length, std::uint64_t iova) override;
  int unmap_dma(std::uint64_t iova, std::size_t length) noexcept override;
  [[nodiscard]] std::string_view describe() const noexcept override { return description_; }

 private:
  Container(UniqueFd fd, std::string path);

  UniqueFd fd_;
  std::string path_;
  std::string description_;
  bool iommu_set_ = false;
};

}  // namespace aether::vfio
