// Checks OrderBook against ReferenceBook while a feed runs: every message
// goes to both; after each book message the touched symbol's best bid and
// offer must agree, and compare_all() compares every level of every symbol,
// the live order counts and the anomaly counters. For tests and
// `aether feed verify`; the reference book makes it slow and allocating.
#pragma once

#include <cstddef>
#include <cstdint>

#include "aether/feed/order_book.hpp"
#include "aether/feed/reference_book.hpp"

namespace aether::feed {

class BookCheck {
 public:
  explicit BookCheck(std::size_t expected_orders = std::size_t{1} << 20) : fast_(expected_orders) {}

  template <class Message>
  void on(const Message& message) {
    fast_.on(message);
    reference_.on(message);
    constexpr char type = Message::type;
    if constexpr (type == 'A' || type == 'F' || type == 'E' || type == 'C' || type == 'X' || type == 'D' || type == 'U') {
      ++book_messages_;
      const auto locate = static_cast<std::uint16_t>(message.header.stock_locate.value());
      if (locate > highest_locate_) highest_locate_ = locate;
      for (Side side : {Side::buy, Side::sell}) {
        if (fast_.best(locate, side) != reference_.best(locate, side)) ++top_divergences_;
      }
    }
  }

  // Ladders (locate and side) that differ in any level, plus 1 if the live
  // order counts differ and 1 if the anomaly counters do. 0: identical.
  [[nodiscard]] std::uint64_t compare_all() const;

  [[nodiscard]] std::uint64_t top_divergences() const noexcept { return top_divergences_; }
  [[nodiscard]] std::uint64_t book_messages() const noexcept { return book_messages_; }
  [[nodiscard]] const OrderBook& fast() const noexcept { return fast_; }
  [[nodiscard]] const ReferenceBook& reference() const noexcept { return reference_; }

 private:
  OrderBook fast_;
  ReferenceBook reference_;
  std::uint64_t top_divergences_ = 0;
  std::uint64_t book_messages_ = 0;
  std::uint16_t highest_locate_ = 0;
};

}  // namespace aether::feed
