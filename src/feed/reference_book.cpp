// ReferenceBook: the book rules written as plainly as possible.
#include "aether/feed/reference_book.hpp"

#include <algorithm>

namespace aether::feed {

void ReferenceBook::on(const itch::AddOrder& message) {
  add(message.order_reference.value(), static_cast<std::uint16_t>(message.header.stock_locate.value()), message.side,
      message.shares.value(), message.price.value());
}

void ReferenceBook::on(const itch::AddOrderWithMpid& message) {
  add(message.order_reference.value(), static_cast<std::uint16_t>(message.header.stock_locate.value()), message.side,
      message.shares.value(), message.price.value());
}

void ReferenceBook::on(const itch::OrderExecuted& message) {
  reduce(message.order_reference.value(), message.executed_shares.value());
}

void ReferenceBook::on(const itch::OrderExecutedWithPrice& message) {
  reduce(message.order_reference.value(), message.executed_shares.value());
}

void ReferenceBook::on(const itch::OrderCancel& message) {
  reduce(message.order_reference.value(), message.cancelled_shares.value());
}

void ReferenceBook::on(const itch::OrderDelete& message) {
  const std::uint64_t reference = message.order_reference.value();
  if (!orders_.contains(reference)) {
    ++anomalies_.unknown_order;
    return;
  }
  remove(reference);
}

void ReferenceBook::on(const itch::OrderReplace& message) {
  const std::uint64_t original = message.original_order_reference.value();
  auto found = orders_.find(original);
  if (found == orders_.end()) {
    ++anomalies_.unknown_order;
    return;
  }
  const Order old = found->second;
  remove(original);
  add(message.new_order_reference.value(), old.locate, old.side == Side::buy ? 'B' : 'S', message.shares.value(),
      message.price.value());
}

void ReferenceBook::add(std::uint64_t reference, std::uint16_t locate, char side_indicator, std::uint64_t shares,
                        std::uint64_t price) {
  Side side{};
  if (locate == 0 || reference == 0 || shares == 0 || !side_from_wire(side_indicator, side)) {
    ++anomalies_.bad_add;
    return;
  }
  if (orders_.contains(reference)) {
    ++anomalies_.duplicate_order;
    return;
  }
  const Order order{locate, side, static_cast<std::uint32_t>(shares), static_cast<std::uint32_t>(price)};
  orders_[reference] = order;
  PriceLevel& level = books_[{locate, side}][order.price];
  level.price = order.price;
  level.orders += 1;
  level.shares += order.shares;
}

void ReferenceBook::reduce(std::uint64_t reference, std::uint64_t shares) {
  auto found = orders_.find(reference);
  if (found == orders_.end()) {
    ++anomalies_.unknown_order;
    return;
  }
  Order& order = found->second;
  if (shares >= order.shares) {
    if (shares > order.shares) ++anomalies_.overfill;
    remove(reference);
    return;
  }
  order.shares -= static_cast<std::uint32_t>(shares);
  books_[{order.locate, order.side}][order.price].shares -= shares;
}

void ReferenceBook::remove(std::uint64_t reference) {
  const Order order = orders_.at(reference);
  orders_.erase(reference);
  SideLevels& levels = books_[{order.locate, order.side}];
  PriceLevel& level = levels[order.price];
  level.shares -= order.shares;
  level.orders -= 1;
  if (level.orders == 0) levels.erase(order.price);
}

std::optional<PriceLevel> ReferenceBook::best(std::uint16_t locate, Side side) const {
  auto book = books_.find({locate, side});
  if (book == books_.end() || book->second.empty()) return std::nullopt;
  // Best bid is the highest price, best ask the lowest.
  return side == Side::buy ? book->second.rbegin()->second : book->second.begin()->second;
}

std::vector<PriceLevel> ReferenceBook::levels(std::uint16_t locate, Side side) const {
  std::vector<PriceLevel> result;
  auto book = books_.find({locate, side});
  if (book == books_.end()) return result;
  for (const auto& [price, level] : book->second) result.push_back(level);
  if (side == Side::sell) std::reverse(result.begin(), result.end());  // worst (highest) ask first
  return result;
}

}  // namespace aether::feed
