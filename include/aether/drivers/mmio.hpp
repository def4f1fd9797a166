// MMIO register access for the userspace drivers (STYLE.md convention 8):
// the only place where device registers are touched through `volatile`.
//
// Ordering on x86-64: BARs mapped through VFIO are uncached (UC) memory;
// UC accesses are not reordered with each other or with ordinary stores
// (Intel SDM vol. 3, 11.3 and 8.2.2), so the CPU needs no fence. The
// compiler does: a compiler barrier before a write keeps descriptor stores
// in DMA memory ahead of the doorbell write, one after a read keeps later
// loads of DMA memory behind it. std::atomic_signal_fence is exactly a
// compiler barrier (and, unlike atomic_thread_fence, works under TSan).
// Another architecture needs real fences here (arm64: dmb/dsb).
#pragma once

#if !defined(__x86_64__)
#error "aether/drivers/mmio.hpp: the barriers below are only enough on x86-64"
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace aether::drivers::mmio {

template <class T>
[[nodiscard]] inline T read(volatile std::byte* base, std::size_t offset) noexcept {
  const T value = *reinterpret_cast<volatile T*>(base + offset);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  return value;
}

template <class T>
inline void write(volatile std::byte* base, std::size_t offset, T value) noexcept {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  *reinterpret_cast<volatile T*>(base + offset) = value;
}

[[nodiscard]] inline std::uint8_t read8(volatile std::byte* base, std::size_t offset) noexcept {
  return read<std::uint8_t>(base, offset);
}
[[nodiscard]] inline std::uint16_t read16(volatile std::byte* base, std::size_t offset) noexcept {
  return read<std::uint16_t>(base, offset);
}
[[nodiscard]] inline std::uint32_t read32(volatile std::byte* base, std::size_t offset) noexcept {
  return read<std::uint32_t>(base, offset);
}
inline void write8(volatile std::byte* base, std::size_t offset, std::uint8_t value) noexcept { write(base, offset, value); }
inline void write16(volatile std::byte* base, std::size_t offset, std::uint16_t value) noexcept {
  write(base, offset, value);
}
inline void write32(volatile std::byte* base, std::size_t offset, std::uint32_t value) noexcept {
  write(base, offset, value);
}

}  // namespace aether::drivers::mmio
