// HugeZeroedArray<T>: a move-only, fixed-size array of trivially copyable T
// in private anonymous memory that the kernel zero-fills, marked
// MADV_HUGEPAGE before its first touch.
//
// Why: a table of tens of megabytes read at random (an order book's order
// table) costs a TLB miss per access on 4 KiB pages (a page walk on top of
// the cache miss); with transparent huge pages one 2 MiB entry covers 512
// times as much. The advice needs no privilege and no reservation
// (/sys/kernel/mm/transparent_hugepage/enabled "madvise" or "always"); where
// THP is off the array is the same array on small pages. The mapping is
// 2 MiB aligned so every full 2 MiB of it can be a huge page.
//
// Zero bytes must be a valid T (the kernel's fill is the array's initial
// value). Allocation failure throws std::bad_alloc, as std::vector does.
#pragma once

#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>

namespace aether::mem {

// The untyped owner: `bytes` of zeroed, 2 MiB aligned, huge-page-advised
// anonymous memory. Throws std::bad_alloc when mmap(2) fails.
class HugeZeroedMapping {
 public:
  HugeZeroedMapping() noexcept = default;
  explicit HugeZeroedMapping(std::size_t bytes);
  ~HugeZeroedMapping();
  HugeZeroedMapping(HugeZeroedMapping&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  HugeZeroedMapping& operator=(HugeZeroedMapping&& other) noexcept {
    HugeZeroedMapping moved(std::move(other));
    std::swap(base_, moved.base_);
    std::swap(bytes_, moved.bytes_);
    return *this;
  }
  HugeZeroedMapping(const HugeZeroedMapping&) = delete;
  HugeZeroedMapping& operator=(const HugeZeroedMapping&) = delete;

  [[nodiscard]] void* data() const noexcept { return base_; }

 private:
  void* base_ = nullptr;
  std::size_t bytes_ = 0;
};

template <class T>
class HugeZeroedArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                "the kernel's zero fill is the only construction and nothing is destroyed");

 public:
  HugeZeroedArray() noexcept = default;
  explicit HugeZeroedArray(std::size_t size) : mapping_(size * sizeof(T)), size_(size) {}

  [[nodiscard]] T* data() const noexcept { return static_cast<T*>(mapping_.data()); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] T& operator[](std::size_t index) const noexcept { return data()[index]; }
  [[nodiscard]] std::span<T> span() const noexcept { return {data(), size_}; }

 private:
  HugeZeroedMapping mapping_;
  std::size_t size_ = 0;
};

}  // namespace aether::mem
