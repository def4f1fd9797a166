// The full-depth order book of every symbol of the feed, built from ITCH 5.0:
// per-order state (OrderTable) and aggregated price levels per symbol and
// side.
//
// Levels of one side live in one sorted vector with the best price at the
// back (bids ascending, asks descending): the best is one load, a new best
// level is a push_back, and levels near the top, where nearly all traffic
// is, move few bytes when inserted or removed. Lookup is a binary search, so
// a deep book costs log(depth), not depth. Nothing allocates per message once
// the order table and the ladders have grown to the day's size (warm-up).
//
// It is a decode_message() handler: on(message) for the book messages
// (A F E C X D U), a no-op for the rest. Inconsistent messages are counted
// (book_types.hpp has the rules) and never crash it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
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

  // Best level of a side, if it has any.
  [[nodiscard]] std::optional<PriceLevel> best(std::uint16_t locate, Side side) const noexcept {
    const std::vector<PriceLevel>& ladder = ladders_[index(locate, side)];
    if (ladder.empty()) return std::nullopt;
    return ladder.back();
  }
  // Every level of a side, worst price first, best last.
  [[nodiscard]] std::span<const PriceLevel> levels(std::uint16_t locate, Side side) const noexcept {
    return ladders_[index(locate, side)];
  }
  [[nodiscard]] std::size_t order_count() const noexcept { return orders_.size(); }
  // Empties the book for a new day, keeping every table's and ladder's
  // capacity (so a second day runs without allocating). Control path.
  void clear() noexcept {
    orders_.clear();
    for (auto& ladder : ladders_) ladder.clear();
    anomalies_ = BookAnomalies{};
  }
  [[nodiscard]] const BookAnomalies& anomalies() const noexcept { return anomalies_; }
  // FNV-1a over every level of every symbol and side and the live order
  // count: two books with the same digest hold the same levels (up to a
  // 64-bit collision). For comparing books across processes (the handler's
  // after recovery against the publisher's whole day). Control path.
  [[nodiscard]] std::uint64_t digest() const noexcept;

 private:
  static std::size_t index(std::uint16_t locate, Side side) noexcept {
    return std::size_t{locate} * 2 + static_cast<std::size_t>(side);
  }
  void add(std::uint64_t reference, std::uint16_t locate, char side_indicator, std::uint32_t shares,
           std::uint32_t price) noexcept;
  void reduce(std::uint64_t reference, std::uint64_t shares) noexcept;
  void remove(LiveOrder* order) noexcept;
  void level_add(const LiveOrder& order) noexcept;
  void level_subtract(const LiveOrder& order, std::uint32_t shares, bool order_gone) noexcept;

  OrderTable orders_;
  std::vector<std::vector<PriceLevel>> ladders_;  // [locate * 2 + side]
  BookAnomalies anomalies_;
};

}  // namespace aether::feed
