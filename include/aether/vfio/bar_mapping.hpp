// BarMapping: the move-only owner of one mmap()ed PCI BAR (STYLE.md
// convention 6). The registers are reached through base(); register access
// itself belongs to each driver's MMIO accessor (convention 8).
#pragma once

#include <cstddef>

namespace aether::vfio {

class BarMapping {
 public:
  BarMapping() noexcept = default;
  BarMapping(void* base, std::size_t length, unsigned bar) noexcept : base_(base), length_(length), bar_(bar) {}
  ~BarMapping();
  BarMapping(BarMapping&& other) noexcept;
  BarMapping& operator=(BarMapping&& other) noexcept;
  BarMapping(const BarMapping&) = delete;
  BarMapping& operator=(const BarMapping&) = delete;

  [[nodiscard]] volatile std::byte* base() const noexcept { return static_cast<volatile std::byte*>(base_); }
  [[nodiscard]] std::size_t length() const noexcept { return length_; }
  [[nodiscard]] unsigned bar() const noexcept { return bar_; }

 private:
  void release() noexcept;

  void* base_ = nullptr;
  std::size_t length_ = 0;
  unsigned bar_ = 0;
};

}  // namespace aether::vfio
