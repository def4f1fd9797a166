#include "aether/vfio/dma_mapping.hpp"

#include <unistd.h>

#include <cstring>
#include <utility>

#include "aether/core/log.hpp"

namespace aether::vfio {

Result<DmaMapping> DmaMapping::create(IoAddressSpace& space, const mem::MemoryRegion& region, std::uint64_t iova) {
  if (region.base() == nullptr) return invalid_argument("cannot DMA-map an empty memory region");
  return create(space, region.base(), region.length(), iova);
}

Result<DmaMapping> DmaMapping::create(IoAddressSpace& space, const void* address, std::size_t length,
                                      std::uint64_t iova) {
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  if (length == 0 || reinterpret_cast<std::uintptr_t>(address) % page != 0 || length % page != 0 || iova % page != 0) {
    return invalid_argument(fmt::format("DMA mapping of {} bytes at {} to IOVA {:#x} on {}: address, length and IOVA "
                                        "must be non-zero multiples of the page size {}",
                                        length, address, iova, space.describe(), page));
  }
  auto mapped = space.map_dma(address, length, iova);
  if (!mapped) return std::move(mapped).error();
  return DmaMapping(&space, address, length, iova);
}

DmaMapping::~DmaMapping() { release(); }

DmaMapping::DmaMapping(DmaMapping&& other) noexcept
    : space_(std::exchange(other.space_, nullptr)),
      address_(other.address_),
      length_(other.length_),
      iova_(other.iova_) {}

DmaMapping& DmaMapping::operator=(DmaMapping&& other) noexcept {
  if (this != &other) {
    release();
    space_ = std::exchange(other.space_, nullptr);
    address_ = other.address_;
    length_ = other.length_;
    iova_ = other.iova_;
  }
  return *this;
}

Result<void> DmaMapping::unmap() {
  if (space_ == nullptr) return {};
  if (const int error = space_->unmap_dma(iova_, length_); error != 0) {
    return errno_error(fmt::format("unmapping IOVA {:#x} ({} bytes) from {} failed; the device can still reach that "
                                   "memory",
                                   iova_, length_, space_->describe()),
                       error);
  }
  space_ = nullptr;
  return {};
}

bool unmap_for_teardown(std::initializer_list<DmaMapping*> mappings, std::string_view device_name) noexcept {
  bool all_gone = true;
  for (DmaMapping* mapping : mappings) {
    try {
      if (auto unmapped = mapping->unmap(); !unmapped) {
        aether::log::error("{}: {}", device_name, unmapped.error().describe());
        all_gone = false;
      }
    } catch (...) {  // formatting the message ran out of memory: still not unmapped
      all_gone = all_gone && !mapping->mapped();
    }
  }
  return all_gone;
}

void DmaMapping::release() noexcept {
  if (space_ == nullptr) return;
  if (const int error = space_->unmap_dma(iova_, length_); error != 0) {
    // A failed unmap leaves pages pinned until the container closes; worth
    // a line, not a crash (this runs in destructors).
    aether::log::warn("unmapping IOVA {:#x} ({} bytes) from {} failed: {}", iova_, length_, space_->describe(),
                      std::strerror(error));
  }
  space_ = nullptr;
}

}  // namespace aether::vfio
