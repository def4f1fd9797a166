// RingView: one memif ring in shared memory, and the only code that
// touches its header and descriptors.
//
// Ownership of indices (memif.rst "Shared memory format"; DPDK
// rte_eth_memif.c eth_memif_rx/eth_memif_tx):
//   C2S ring: the client produces at `head` (fills descriptors, then
//             publishes head); the server consumes and publishes `tail`.
//   S2C ring: the client (which owns every buffer) offers empty buffers by
//             writing descriptors and publishing `head`; the server fills
//             them and publishes `tail`; the client receives [old tail, tail).
// Indices are free-running u16; slot = index & (size - 1).
//
// Memory order: every publication (head or tail store) is a release that
// pairs with the peer's acquire load of the same index, so descriptor and
// buffer contents written before it are visible after it (the same pairing
// DPDK uses, __atomic_store_n/__atomic_load_n). Loads of an index we
// publish ourselves are relaxed.
//
// The peer may write anything at any time. Descriptors are therefore read
// exactly once into a local (two 8-byte atomic loads: no torn field, and
// the compiler cannot re-read a field after it was validated) and indices
// are checked by the caller with the helpers at the end of this file.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "wire.hpp"

namespace aether::backends::memif {

class RingView {
 public:
  RingView() noexcept = default;
  // `ring`: the ring header in a mapped region, 16-byte aligned (checked
  // during the handshake). log2_size <= kMaxLog2RingSize.
  RingView(std::byte* ring, unsigned log2_size) noexcept
      : header_(reinterpret_cast<RingHeader*>(ring)),
        descriptors_(reinterpret_cast<std::uint64_t*>(ring + sizeof(RingHeader))),
        size_(1u << log2_size),
        mask_(static_cast<std::uint16_t>((1u << log2_size) - 1)) {}

  [[nodiscard]] bool valid() const noexcept { return header_ != nullptr; }
  [[nodiscard]] std::uint32_t size() const noexcept { return size_; }
  [[nodiscard]] std::uint16_t slot(std::uint16_t index) const noexcept { return index & mask_; }

  [[nodiscard]] std::uint16_t load_head(std::memory_order order) const noexcept {
    return std::atomic_ref<std::uint16_t>(header_->head).load(order);
  }
  [[nodiscard]] std::uint16_t load_tail(std::memory_order order) const noexcept {
    return std::atomic_ref<std::uint16_t>(header_->tail).load(order);
  }
  void store_head(std::uint16_t value, std::memory_order order) const noexcept {
    std::atomic_ref<std::uint16_t>(header_->head).store(value, order);
  }
  void store_tail(std::uint16_t value, std::memory_order order) const noexcept {
    std::atomic_ref<std::uint16_t>(header_->tail).store(value, order);
  }
  // The receiver's MASK_INT flag; the sender reads it after each publication.
  [[nodiscard]] std::uint16_t load_flags() const noexcept {
    return std::atomic_ref<std::uint16_t>(header_->flags).load(std::memory_order_relaxed);
  }
  void store_flags(std::uint16_t value) const noexcept {
    std::atomic_ref<std::uint16_t>(header_->flags).store(value, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint32_t load_cookie() const noexcept {
    return std::atomic_ref<std::uint32_t>(header_->cookie).load(std::memory_order_relaxed);
  }
  void store_cookie(std::uint32_t value) const noexcept {
    std::atomic_ref<std::uint32_t>(header_->cookie).store(value, std::memory_order_relaxed);
  }

  // One read of the descriptor at `index` (any index; it is masked).
  [[nodiscard]] Descriptor load(std::uint16_t index) const noexcept {
    std::uint64_t* words = descriptors_ + 2 * std::size_t{slot(index)};
    const std::uint64_t word0 = std::atomic_ref<std::uint64_t>(words[0]).load(std::memory_order_relaxed);
    const std::uint64_t word1 = std::atomic_ref<std::uint64_t>(words[1]).load(std::memory_order_relaxed);
    Descriptor d;
    d.flags = static_cast<std::uint16_t>(word0);
    d.region = static_cast<std::uint16_t>(word0 >> 16);
    d.length = static_cast<std::uint32_t>(word0 >> 32);
    d.offset = static_cast<std::uint32_t>(word1);
    d.metadata = static_cast<std::uint32_t>(word1 >> 32);
    return d;
  }

  // Writes the whole descriptor at `index`.
  void store(std::uint16_t index, const Descriptor& d) const noexcept {
    std::uint64_t* words = descriptors_ + 2 * std::size_t{slot(index)};
    std::atomic_ref<std::uint64_t>(words[0]).store(first_word(d), std::memory_order_relaxed);
    std::atomic_ref<std::uint64_t>(words[1]).store(std::uint64_t{d.offset} | std::uint64_t{d.metadata} << 32,
                                                   std::memory_order_relaxed);
  }

  // Writes flags, region and length (the first word) and leaves offset and
  // metadata alone: what a filler of the peer's buffers may change.
  void store_first_word(std::uint16_t index, const Descriptor& d) const noexcept {
    std::uint64_t* words = descriptors_ + 2 * std::size_t{slot(index)};
    std::atomic_ref<std::uint64_t>(words[0]).store(first_word(d), std::memory_order_relaxed);
  }

  // Clears the flags of a consumed descriptor (see rx_path.hpp, why).
  void clear_flags(std::uint16_t index) const noexcept {
    std::uint64_t* words = descriptors_ + 2 * std::size_t{slot(index)};
    std::atomic_ref<std::uint64_t> word(words[0]);
    word.store(word.load(std::memory_order_relaxed) & ~std::uint64_t{0xffff}, std::memory_order_relaxed);
  }

 private:
  static std::uint64_t first_word(const Descriptor& d) noexcept {
    return std::uint64_t{d.flags} | std::uint64_t{d.region} << 16 | std::uint64_t{d.length} << 32;
  }

  RingHeader* header_ = nullptr;
  std::uint64_t* descriptors_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint16_t mask_ = 0;
};

// ---- Index checks: the peer's published index against what is possible.

// Entries between our cursor and the peer's published index, or -1 when the
// index is impossible: more than `limit` ahead (or, wrapped, behind us).
// limit: the ring size when the peer produces freely (server rx on C2S:
// head - our tail <= size; server tx on S2C: offered head - our tail <= size),
// or what we handed out when the peer can only return our own entries
// (client rx on S2C: tail - cursor <= our head - cursor; client tx on C2S:
// tail - completed <= our head - completed).
[[nodiscard]] constexpr std::int32_t entries_between(std::uint16_t cursor, std::uint16_t published,
                                                     std::uint32_t limit) noexcept {
  const auto entries = static_cast<std::uint16_t>(published - cursor);
  return entries <= limit ? std::int32_t{entries} : -1;
}

static_assert(entries_between(65530, 4, 16) == 10, "indices are free-running u16 and wrap");
static_assert(entries_between(10, 9, 1024) == -1, "an index that went backwards is impossible");
static_assert(entries_between(0, 1025, 1024) == -1);

}  // namespace aether::backends::memif
