// OrderTable: deletion and growth (see order_table.hpp).
#include "aether/feed/order_table.hpp"

#include <bit>
#include <utility>

namespace aether::feed {

OrderTable::OrderTable(std::size_t expected_orders)
    : slots_(std::bit_ceil(std::max<std::size_t>(expected_orders, 8) * 2)), mask_(slots_.size() - 1) {}

void OrderTable::erase(LiveOrder* found) noexcept {
  // Backward-shift deletion (Knuth vol. 3, 6.4 Algorithm R): pull every later
  // member of the probe run whose home slot is not between the hole and
  // itself back into the hole, so find() can stop at the first empty slot.
  std::size_t hole = static_cast<std::size_t>(found - slots_.data());
  for (std::size_t next = (hole + 1) & mask_;; next = (next + 1) & mask_) {
    const LiveOrder& candidate = slots_[next];
    if (candidate.reference == 0) break;
    const std::size_t home = candidate.reference & mask_;
    // Distance from home to next vs. from hole to next, both cyclic.
    if (((next - home) & mask_) >= ((next - hole) & mask_)) {
      slots_[hole] = candidate;
      hole = next;
    }
  }
  slots_[hole] = LiveOrder{};
  --size_;
}

void OrderTable::grow() noexcept {
  mem::HugeZeroedArray<LiveOrder> old(slots_.size() * 2);
  std::swap(old, slots_);
  mask_ = slots_.size() - 1;
  size_ = 0;
  for (const LiveOrder& order : old.span()) {
    if (order.reference != 0) insert(order);
  }
}

}  // namespace aether::feed
