// The full-depth order book of every symbol of the feed, built from ITCH 5.0:
// per-order state (OrderTable) and aggregated price levels per symbol and
// side.
//
// A price level's totals (orders, shares) live in one pool of levels, and
// every live order keeps the handle of its level: an execute, a cancel or a
// delete that leaves the level non-empty goes order -> level in two loads,
// with no search. The ladder of one side is a sorted vector of (price,
// handle), 8 bytes an entry, best price at the back (bids ascending, asks
// descending): the best is one load, a new best level is a push_back, and
// levels near the top, where nearly all traffic is, move few bytes when
// inserted or removed. Only an add and the removal of an emptied level
// search it: the 8 best entries (one cache line) linearly, then a binary
// search, so a deep book costs log(depth), not depth. Nothing allocates per
// message once the order table, the pool and the ladders have grown to the
// day's size (warm-up).
//
// It is a decode_message() handler: on(message) for the book messages
// (A F E C X D U), a no-op for the rest. Inconsistent messages are counted
// (book_types.hpp has the rules) and never crash it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "aether/feed/book_types.hpp"
#include "aether/feed/itch_messages.hpp"
#include "aether/feed/order_table.hpp"

namespace aether::feed {

class OrderBook {
 public:
  // `expected_orders`: live orders at once the order table is sized for.
  explicit OrderBook(std::size_t expected_orders = std::size_t{1} << 20);

  void on(const itch::AddOrder& message) noexcept;
  void on(const itch::AddOrderWithMpid& message) noexcept;
  void on(const itch::OrderExecuted& message) noexcept;
  void on(const itch::OrderExecutedWithPrice& message) noexcept;
  void on(const itch::OrderCancel& message) noexcept;
  void on(const itch::OrderDelete& message) noexcept;
  void on(const itch::OrderReplace& message) noexcept;
  template <class Message>
  void on(const Message&) noexcept {}  // no book effect (shared specs section 3)

  // Starts the loads on(message) will wait for: the order's table slot, and
  // for an add the symbol's ladder header. Called for every message of a
  // packet before the first is applied, the packet's cache misses overlap
  // instead of queueing one after another. A hint: no effect on the book.
  template <class Message>
  void prefetch(const Message& message) const noexcept {
    constexpr char type = Message::type;
    if constexpr (type == 'E' || type == 'C' || type == 'X' || type == 'D') {
      orders_.prefetch(message.order_reference.value());
    } else if constexpr (type == 'U') {
      orders_.prefetch(message.original_order_reference.value());
    } else if constexpr (type == 'A' || type == 'F') {
      orders_.prefetch(message.order_reference.value());
      const auto locate = static_cast<std::uint16_t>(message.header.stock_locate.value());
      __builtin_prefetch(&ladders_[index(locate, message.side == 'B' ? Side::buy : Side::sell)]);
    }
  }

  // Best level of a side, if it has any.
  [[nodiscard]] std::optional<PriceLevel> best(std::uint16_t locate, Side side) const noexcept {
    const std::vector<LadderEntry>& ladder = ladders_[index(locate, side)];
    if (ladder.empty()) return std::nullopt;
    return level_at(ladder.back());
  }
  // Every level of a side, worst price first, best last. Control path.
  [[nodiscard]] std::vector<PriceLevel> levels(std::uint16_t locate, Side side) const;
  [[nodiscard]] std::size_t order_count() const noexcept { return orders_.size(); }
  // Empties the book for a new day, keeping every table's and ladder's
  // capacity (so a second day runs without allocating). Control path.
  void clear() noexcept {
    orders_.clear();
    for (auto& ladder : ladders_) ladder.clear();
    level_totals_.clear();
    free_levels_.clear();
    anomalies_ = BookAnomalies{};
  }
  [[nodiscard]] const BookAnomalies& anomalies() const noexcept { return anomalies_; }
  // FNV-1a over every level of every symbol and side and the live order
  // count: two books with the same digest hold the same levels (up to a
  // 64-bit collision). For comparing books across processes (the handler's
  // after recovery against the publisher's whole day). Control path.
  [[nodiscard]] std::uint64_t digest() const noexcept;

 private:
  // A price level, in the pool; an order's `level` indexes it. Its price,
  // symbol and side are its orders' (kept here, not in each order's slot).
  struct LevelTotals {
    std::uint64_t shares = 0;
    std::uint32_t orders = 0;
    std::uint32_t price = 0;
    std::uint16_t locate = 0;
    Side side = Side::buy;
  };
  // One level of a ladder: its price and its totals' handle.
  struct LadderEntry {
    std::uint32_t price = 0;
    std::uint32_t level = 0;
  };
  static_assert(sizeof(LadderEntry) == 8, "8 entries, the levels nearest the touch, in one cache line");

  [[nodiscard]] PriceLevel level_at(const LadderEntry& entry) const noexcept {
    const LevelTotals& totals = level_totals_[entry.level];
    return PriceLevel{entry.price, totals.orders, totals.shares};
  }
  static std::size_t index(std::uint16_t locate, Side side) noexcept {
    return std::size_t{locate} * 2 + static_cast<std::size_t>(side);
  }
  void add(std::uint64_t reference, std::uint16_t locate, char side_indicator, std::uint32_t shares,
           std::uint32_t price) noexcept;
  void reduce(std::uint64_t reference, std::uint64_t shares) noexcept;
  void remove(LiveOrder* order) noexcept;
  // Adds an order of `shares` to its level (found or made); the level's handle.
  std::uint32_t level_add(std::uint16_t locate, Side side, std::uint32_t price, std::uint32_t shares) noexcept;
  // Takes `shares` off `level`, and one order if `order_gone` (an emptied level leaves its ladder).
  void level_subtract(std::uint32_t level, std::uint32_t shares, bool order_gone) noexcept;

  OrderTable orders_;
  std::vector<std::vector<LadderEntry>> ladders_;  // [locate * 2 + side]
  std::vector<LevelTotals> level_totals_;           // the pool, by handle
  std::vector<std::uint32_t> free_levels_;          // handles of emptied levels, reused last in first out
  BookAnomalies anomalies_;
};

}  // namespace aether::feed
