// DmaMapping: the move-only owner of one IOMMU mapping (STYLE.md
// convention 6): created by mapping a memory range at a chosen IOVA,
// destroyed by unmapping it. The device can reach exactly the mapped bytes;
// anything else it touches ends in an IOMMU fault.
//
// The IoAddressSpace must outlive every mapping made in it; destroy the
// mappings after the device was reset or stopped (a device still doing DMA
// into an unmapped range only causes IOMMU faults, never corruption).
#pragma once

#include <cstddef>
#include <cstdint>

#include "aether/core/result.hpp"
#include "aether/mem/memory_region.hpp"
#include "aether/vfio/io_address_space.hpp"

namespace aether::vfio {

class DmaMapping {
 public:
  // Maps the whole region at `iova` (page aligned).
  [[nodiscard]] static Result<DmaMapping> create(IoAddressSpace& space, const mem::MemoryRegion& region,
                                                 std::uint64_t iova);
  // Maps [address, address + length) at `iova`; all three page aligned.
  [[nodiscard]] static Result<DmaMapping> create(IoAddressSpace& space, const void* address, std::size_t length,
                                                 std::uint64_t iova);

  DmaMapping() noexcept = default;
  ~DmaMapping();
  DmaMapping(DmaMapping&& other) noexcept;
  DmaMapping& operator=(DmaMapping&& other) noexcept;
  DmaMapping(const DmaMapping&) = delete;
  DmaMapping& operator=(const DmaMapping&) = delete;

  [[nodiscard]] std::uint64_t iova() const noexcept { return iova_; }
  [[nodiscard]] std::size_t length() const noexcept { return length_; }
  [[nodiscard]] const void* address() const noexcept { return address_; }
  // The IOVA of a byte inside the mapping (no check: data-path helper).
  [[nodiscard]] std::uint64_t iova_of(const void* pointer) const noexcept {
    return iova_ + static_cast<std::uint64_t>(static_cast<const std::byte*>(pointer) -
                                              static_cast<const std::byte*>(address_));
  }

 private:
  DmaMapping(IoAddressSpace* space, const void* address, std::size_t length, std::uint64_t iova) noexcept
      : space_(space), address_(address), length_(length), iova_(iova) {}
  void release() noexcept;

  IoAddressSpace* space_ = nullptr;
  const void* address_ = nullptr;
  std::size_t length_ = 0;
  std::uint64_t iova_ = 0;
};

}  // namespace aether::vfio
