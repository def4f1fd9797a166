// BufferLedger: which mempool buffers the kernel holds right now (given on
// the fill or tx ring, not yet back on the rx or completion ring).
//
// Why: the rx and completion rings carry addresses written by the kernel.
// Before a Packet* is built from one, the address must name a buffer of this
// pool *that the kernel was given*; a duplicate or stray address would
// otherwise hand the same buffer out twice. One bit per buffer, one load and
// store per packet, on memory only this queue's thread touches.
//
// At teardown (after the UMEM is closed, so the kernel can no longer write)
// every buffer still marked goes back to the pool.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "aether/mem/mempool.hpp"

namespace aether::backends::afxdp {

class BufferLedger {
 public:
  explicit BufferLedger(mem::Mempool& pool) : pool_(&pool), bits_((pool.capacity() + 63) / 64, 0) {}
  ~BufferLedger() { release_all(); }
  BufferLedger(const BufferLedger&) = delete;
  BufferLedger& operator=(const BufferLedger&) = delete;

  // Marks `packet` (a buffer of this pool) as held by the kernel.
  void give(const mem::Packet* packet) noexcept {
    bits_[packet->buffer_index >> 6] |= bit(packet->buffer_index);
  }

  // Unmarks `packet`; false (changing nothing) if the kernel did not hold it.
  [[nodiscard]] bool take_back(const mem::Packet* packet) noexcept {
    std::uint64_t& word = bits_[packet->buffer_index >> 6];
    const std::uint64_t mask = bit(packet->buffer_index);
    if ((word & mask) == 0) return false;
    word &= ~mask;
    return true;
  }

  [[nodiscard]] bool held(const mem::Packet* packet) const noexcept {
    return (bits_[packet->buffer_index >> 6] & bit(packet->buffer_index)) != 0;
  }

  // Returns every marked buffer to the pool. Only once the kernel can no
  // longer touch the UMEM.
  void release_all() noexcept {
    mem::Packet* batch[64];
    unsigned count = 0;
    for (std::size_t word = 0; word < bits_.size(); ++word) {
      while (bits_[word] != 0) {
        const unsigned low = static_cast<unsigned>(__builtin_ctzll(bits_[word]));
        bits_[word] &= bits_[word] - 1;  // clear the lowest set bit
        batch[count++] = pool_->packet_at_index(static_cast<std::uint32_t>(word * 64 + low));
        if (count == 64) {
          pool_->free_bulk(std::span<mem::Packet* const>(batch, count));
          count = 0;
        }
      }
    }
    if (count != 0) pool_->free_bulk(std::span<mem::Packet* const>(batch, count));
  }

 private:
  static std::uint64_t bit(std::uint32_t index) noexcept { return std::uint64_t{1} << (index & 63); }

  mem::Mempool* pool_;
  std::vector<std::uint64_t> bits_;
};

}  // namespace aether::backends::afxdp
