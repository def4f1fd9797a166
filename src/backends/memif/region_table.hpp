// RegionTable: the regions of one connection as the data path sees them,
// and the one check every peer-supplied (region, offset, length) passes
// before a byte is read or written.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "wire.hpp"

namespace aether::backends::memif {

struct RegionView {
  std::byte* base = nullptr;
  std::uint64_t size = 0;  // bytes that may be accessed from base
};

class RegionTable {
 public:
  // Precondition: count <= kMaxRegions (the handshake enforces it).
  void set(std::uint16_t index, RegionView view) noexcept {
    regions_[index] = view;
    if (index >= count_) count_ = static_cast<std::uint16_t>(index + 1);
  }
  [[nodiscard]] std::uint32_t count() const noexcept { return count_; }
  [[nodiscard]] const RegionView& operator[](std::uint16_t index) const noexcept { return regions_[index]; }

  // The address of [offset, offset + length) in region `region`, or nullptr
  // when the region does not exist or the range does not lie inside it.
  // 64-bit sum: u32 offset + u32 length cannot wrap.
  [[nodiscard]] std::byte* resolve(std::uint16_t region, std::uint32_t offset, std::uint32_t length) const noexcept {
    if (region >= count_) return nullptr;
    const RegionView& view = regions_[region];
    if (std::uint64_t{offset} + length > view.size) return nullptr;
    return view.base + offset;
  }

 private:
  std::array<RegionView, kMaxRegions> regions_{};
  std::uint16_t count_ = 0;
};

}  // namespace aether::backends::memif
