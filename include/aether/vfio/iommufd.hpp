// Iommufd: the iommufd path (/dev/iommu, Linux >= 6.2) with one IO address
// space (IOAS), and binding of VFIO device cdevs (/dev/vfio/devices/vfioN,
// Linux >= 6.6, CONFIG_VFIO_DEVICE_CDEV) to it
// (Documentation/driver-api/vfio.rst, "VFIO device cdev").
//
// Sequence: open() opens /dev/iommu and IOMMU_IOAS_ALLOC; attach_device()
// does VFIO_DEVICE_BIND_IOMMUFD and VFIO_DEVICE_ATTACH_IOMMUFD_PT with the
// IOAS; DMA mappings use IOMMU_IOAS_MAP with a fixed IOVA.
//
// Debian's kernels (6.1, 6.12, 7.2) are built without CONFIG_IOMMUFD, so
// this path is only exercised on custom kernels; DeviceSession falls back to
// the container path when /dev/iommu or the cdev is missing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aether/core/result.hpp"
#include "aether/vfio/io_address_space.hpp"
#include "aether/vfio/unique_fd.hpp"

namespace aether::vfio {

class Iommufd final : public IoAddressSpace {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Iommufd>> open(const std::string& path = "/dev/iommu");
  ~Iommufd() override;

  // Binds an opened device cdev to this iommufd and attaches it to the IOAS.
  // `device_name` (BDF and cdev path) is for messages.
  [[nodiscard]] Result<void> attach_device(int device_fd, const std::string& device_name);

  [[nodiscard]] std::uint32_t ioas_id() const noexcept { return ioas_id_; }
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

  [[nodiscard]] Result<void> map_dma(const void* address, std::size_t length, std::uint64_t iova) override;
  int unmap_dma(std::uint64_t iova, std::size_t length) noexcept override;
  [[nodiscard]] std::string_view describe() const noexcept override { return description_; }

 private:
  Iommufd(UniqueFd fd, std::uint32_t ioas_id, std::string description)
      : fd_(std::move(fd)), ioas_id_(ioas_id), description_(std::move(description)) {}

  UniqueFd fd_;
  std::uint32_t ioas_id_ = 0;
  std::string description_;
};

}  // namespace aether::vfio
