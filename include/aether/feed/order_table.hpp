// Live orders by Order Reference Number: open addressing, linear probing,
// backward-shift deletion (no tombstones, so probe runs never rot).
//
// The slot is the reference's low bits (no mixing): Nasdaq assigns
// references increasing through the day, so orders entered together sit in
// neighbouring slots and the usual add-then-delete-soon traffic stays in a
// few cache lines. The table doubles when half full; sized for the day up
// front (CppTrader saw 1.65M live orders at most) it never allocates again.
// The slots are on transparent huge pages (mem::HugeZeroedArray): an old
// order's slot is a cache miss, and without them a TLB miss (page walk) too.
// Reference 0 is never stored (it marks non-displayed trades; used as the
// empty-slot key).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "aether/mem/huge_zeroed_array.hpp"

namespace aether::feed {

// An order's own state; its price, symbol and side are its level's
// (OrderBook keeps them with the level's totals), so a slot is 16 bytes:
// four per cache line, none straddling two.
struct LiveOrder {
  std::uint64_t reference = 0;  // 0: empty slot
  std::uint32_t shares = 0;
  std::uint32_t level = 0;  // the book's handle of its price level (OrderBook)
};
static_assert(sizeof(LiveOrder) == 16);

class OrderTable {
 public:
  // `expected_orders` live at once; rounded up to a power of two, doubled.
  explicit OrderTable(std::size_t expected_orders);

  // The live order with `reference`, or nullptr (always for reference 0).
  [[nodiscard]] LiveOrder* find(std::uint64_t reference) noexcept {
    if (reference == 0) return nullptr;
    for (std::size_t slot = reference & mask_;; slot = (slot + 1) & mask_) {
      LiveOrder& order = slots_[slot];
      if (order.reference == reference) return &order;
      if (order.reference == 0) return nullptr;
    }
  }
  // Starts loading the slot where find(reference) begins (a hint, no effect).
  void prefetch(std::uint64_t reference) const noexcept { __builtin_prefetch(&slots_[reference & mask_]); }
  // Inserts an order whose reference (non-zero) is not live.
  void insert(const LiveOrder& order) noexcept {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    std::size_t slot = order.reference & mask_;
    while (slots_[slot].reference != 0) slot = (slot + 1) & mask_;
    slots_[slot] = order;
    ++size_;
  }
  // Removes the order `found` points at (a pointer find() returned).
  void erase(LiveOrder* found) noexcept;

  // Empties the table, keeping its capacity.
  void clear() noexcept {
    std::fill_n(slots_.data(), slots_.size(), LiveOrder{});
    size_ = 0;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return slots_.size(); }

 private:
  void grow() noexcept;

  // On transparent huge pages: a day's table is tens of MB read at random.
  mem::HugeZeroedArray<LiveOrder> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace aether::feed
