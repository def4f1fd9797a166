// IoAddressSpace: where DMA mappings live, whichever kernel interface
// provides it: a VFIO type1 container (/dev/vfio/vfio) or an iommufd IOAS
// (/dev/iommu). DmaMapping talks to this interface only, so drivers do not
// care which path DeviceSession chose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aether/core/result.hpp"

namespace aether::vfio {

class IoAddressSpace {
 public:
  virtual ~IoAddressSpace() = default;
  IoAddressSpace() = default;
  IoAddressSpace(const IoAddressSpace&) = delete;
  IoAddressSpace& operator=(const IoAddressSpace&) = delete;

  // Maps [address, address + length) of this process at `iova`, readable
  // and writable by the device. address, length and iova must be page
  // aligned. The pages are pinned by the kernel (counted against
  // RLIMIT_MEMLOCK for an unprivileged user).
  [[nodiscard]] virtual Result<void> map_dma(const void* address, std::size_t length, std::uint64_t iova) = 0;

  // Removes a mapping made by map_dma with the same iova and length.
  // Returns 0 or an errno value (called from destructors).
  virtual int unmap_dma(std::uint64_t iova, std::size_t length) noexcept = 0;

  // "VFIO container /dev/vfio/vfio" or "iommufd /dev/iommu IOAS 2", for messages.
  [[nodiscard]] virtual std::string_view describe() const noexcept = 0;
};

}  // namespace aether::vfio
