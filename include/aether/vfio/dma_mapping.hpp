// DmaMapping: the move-only owner of one IOMMU mapping (STYLE.md
// convention 6): created by mapping a memory range at a chosen IOVA,
// destroyed by unmapping it. The device can reach exactly the mapped bytes;
// anything else it touches ends in an IOMMU fault.
//
// The IoAddressSpace must outlive every mapping made in it; destroy the
// mappings after the device was reset or stopped (a device still doing DMA
// into an unmapped range only causes IOMMU faults, never corruption).
//
// Teardown order (a running device could DMA into recycled buffers):
// quiesce the device, unmap (unmap() or unmap_for_teardown(), which say
// whether the mapping is gone), and only then give the buffers the device
// held back to their pool. A failed unmap leaves the mapping owned and
// reported: the memory stays reachable by the device, so its buffers must
// not be reused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

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

  // Removes the mapping now. On failure the mapping stays owned (mapped()
  // stays true; the destructor tries again) and the error names the IOVA,
  // length, address space and errno. No-op when not mapped.
  [[nodiscard]] Result<void> unmap();
  [[nodiscard]] bool mapped() const noexcept { return space_ != nullptr; }

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

// Unmaps every mapping in order, logging each failure with `device_name`.
// True when all are gone: only then may the buffers the device could reach
// through them go back to a pool. For destructors (never throws).
[[nodiscard]] bool unmap_for_teardown(std::initializer_list<DmaMapping*> mappings, std::string_view device_name) noexcept;

}  // namespace aether::vfio
