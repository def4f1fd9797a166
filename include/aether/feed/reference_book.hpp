// The obviously correct order book: std::map everywhere, no cleverness.
// It exists to check OrderBook (order_book.hpp) message by message; same
// interface, same rules for inconsistent messages (book_types.hpp). Slow and
// allocating: for tests and hand runs only, never the data path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "aether/feed/book_types.hpp"
#include "aether/feed/itch_messages.hpp"

namespace aether::feed {

class ReferenceBook {
 public:
  void on(const itch::AddOrder& message);
  void on(const itch::AddOrderWithMpid& message);
  void on(const itch::OrderExecuted& message);
  void on(const itch::OrderExecutedWithPrice& message);
  void on(const itch::OrderCancel& message);
  void on(const itch::OrderDelete& message);
  void on(const itch::OrderReplace& message);
  template <class Message>
  void on(const Message&) {}

  [[nodiscard]] std::optional<PriceLevel> best(std::uint16_t locate, Side side) const;
  // Every level of a side, worst price first, best last (as OrderBook::levels).
  [[nodiscard]] std::vector<PriceLevel> levels(std::uint16_t locate, Side side) const;
  [[nodiscard]] std::size_t order_count() const { return orders_.size(); }
  [[nodiscard]] const BookAnomalies& anomalies() const { return anomalies_; }

 private:
  struct Order {
    std::uint16_t locate;
    Side side;
    std::uint32_t shares;
    std::uint32_t price;
  };
  // Shares and order count per price, for one side of one symbol.
  using SideLevels = std::map<std::uint32_t, PriceLevel>;

  void add(std::uint64_t reference, std::uint16_t locate, char side_indicator, std::uint64_t shares, std::uint64_t price);
  void reduce(std::uint64_t reference, std::uint64_t shares);
  void remove(std::uint64_t reference);

  std::map<std::uint64_t, Order> orders_;
  std::map<std::pair<std::uint16_t, Side>, SideLevels> books_;
  BookAnomalies anomalies_;
};

}  // namespace aether::feed
