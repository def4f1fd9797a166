// OrderBook: applying ITCH book messages (see order_book.hpp).
#include "aether/feed/order_book.hpp"

#include <algorithm>
#include <limits>

namespace aether::feed {
namespace {

// Position of `price` in a ladder sorted worst..best (bids ascending, asks
// descending): the first level not worse than it. Nearly all traffic is a
// few levels from the best, so the last `near_best` levels are scanned
// linearly (predictable branches, one cache line or two) before a binary
// search of the rest (log(depth) for the deep, stale orders).
constexpr std::size_t near_best = 8;

template <class Ladder, class Worse>
typename Ladder::iterator find_level_in(Ladder& ladder, std::uint32_t price, Worse worse) noexcept {
  auto position = ladder.end();
  const auto stop = ladder.size() > near_best ? ladder.end() - near_best : ladder.begin();
  while (position != stop && !worse(*(position - 1), price)) --position;
  if (position != stop || stop == ladder.begin()) return position;
  return std::lower_bound(ladder.begin(), stop, price, worse);
}

template <class Ladder>
typename Ladder::iterator find_level(Ladder& ladder, std::uint32_t price, Side side) noexcept {
  using Entry = typename Ladder::value_type;
  if (side == Side::buy) {
    return find_level_in(ladder, price, [](const Entry& level, std::uint32_t wanted) { return level.price < wanted; });
  }
  return find_level_in(ladder, price, [](const Entry& level, std::uint32_t wanted) { return level.price > wanted; });
}

constexpr std::size_t locates = std::size_t{std::numeric_limits<std::uint16_t>::max()} + 1;

}  // namespace

OrderBook::OrderBook(std::size_t expected_orders) : orders_(expected_orders), ladders_(locates * 2) {}

void OrderBook::on(const itch::AddOrder& message) noexcept {
  add(message.order_reference.value(), static_cast<std::uint16_t>(message.header.stock_locate.value()), message.side,
      static_cast<std::uint32_t>(message.shares.value()), static_cast<std::uint32_t>(message.price.value()));
}

void OrderBook::on(const itch::AddOrderWithMpid& message) noexcept {
  add(message.order_reference.value(), static_cast<std::uint16_t>(message.header.stock_locate.value()), message.side,
      static_cast<std::uint32_t>(message.shares.value()), static_cast<std::uint32_t>(message.price.value()));
}

void OrderBook::on(const itch::OrderExecuted& message) noexcept {
  reduce(message.order_reference.value(), message.executed_shares.value());
}

void OrderBook::on(const itch::OrderExecutedWithPrice& message) noexcept {
  reduce(message.order_reference.value(), message.executed_shares.value());
}

void OrderBook::on(const itch::OrderCancel& message) noexcept {
  reduce(message.order_reference.value(), message.cancelled_shares.value());
}

void OrderBook::on(const itch::OrderDelete& message) noexcept {
  LiveOrder* order = orders_.find(message.order_reference.value());
  if (order == nullptr) {
    ++anomalies_.unknown_order;
    return;
  }
  remove(order);
}

void OrderBook::on(const itch::OrderReplace& message) noexcept {
  LiveOrder* original = orders_.find(message.original_order_reference.value());
  if (original == nullptr) {
    ++anomalies_.unknown_order;
    return;
  }
  // Side and stock stay the original's (spec 1.4.5).
  const LevelTotals& level = level_totals_[original->level];
  const std::uint16_t locate = level.locate;
  const char side_indicator = level.side == Side::buy ? 'B' : 'S';
  remove(original);
  add(message.new_order_reference.value(), locate, side_indicator, static_cast<std::uint32_t>(message.shares.value()),
      static_cast<std::uint32_t>(message.price.value()));
}

void OrderBook::add(std::uint64_t reference, std::uint16_t locate, char side_indicator, std::uint32_t shares,
                    std::uint32_t price) noexcept {
  Side side{};
  if (locate == 0 || reference == 0 || shares == 0 || !side_from_wire(side_indicator, side)) {
    ++anomalies_.bad_add;
    return;
  }
  if (orders_.find(reference) != nullptr) {
    ++anomalies_.duplicate_order;
    return;
  }
  orders_.insert(LiveOrder{reference, shares, level_add(locate, side, price, shares)});
}

void OrderBook::reduce(std::uint64_t reference, std::uint64_t shares) noexcept {
  LiveOrder* order = orders_.find(reference);
  if (order == nullptr) {
    ++anomalies_.unknown_order;
    return;
  }
  if (shares >= order->shares) {
    if (shares > order->shares) ++anomalies_.overfill;
    remove(order);
    return;
  }
  const auto taken = static_cast<std::uint32_t>(shares);
  order->shares -= taken;
  level_subtract(order->level, taken, false);
}

void OrderBook::remove(LiveOrder* order) noexcept {
  level_subtract(order->level, order->shares, true);
  orders_.erase(order);
}

std::uint32_t OrderBook::level_add(std::uint16_t locate, Side side, std::uint32_t price, std::uint32_t shares) noexcept {
  std::vector<LadderEntry>& ladder = ladders_[index(locate, side)];
  auto entry = find_level(ladder, price, side);
  std::uint32_t level = 0;
  if (entry != ladder.end() && entry->price == price) {
    level = entry->level;
  } else {
    if (free_levels_.empty()) {
      level = static_cast<std::uint32_t>(level_totals_.size());
      level_totals_.emplace_back();
    } else {
      level = free_levels_.back();
      free_levels_.pop_back();
    }
    level_totals_[level] = LevelTotals{0, 0, price, locate, side};
    ladder.insert(entry, LadderEntry{price, level});
  }
  LevelTotals& totals = level_totals_[level];
  ++totals.orders;
  totals.shares += shares;
  return level;
}

void OrderBook::level_subtract(std::uint32_t level, std::uint32_t shares, bool order_gone) noexcept {
  LevelTotals& totals = level_totals_[level];
  totals.shares -= shares;
  if (!order_gone || --totals.orders != 0) return;
  // The level emptied: take it out of its ladder. Every live level is in its
  // ladder, so the search finds it (a miss is a broken invariant).
  std::vector<LadderEntry>& ladder = ladders_[index(totals.locate, totals.side)];
  ladder.erase(find_level(ladder, totals.price, totals.side));
  free_levels_.push_back(level);
}

std::vector<PriceLevel> OrderBook::levels(std::uint16_t locate, Side side) const {
  std::vector<PriceLevel> result;
  for (const LadderEntry& entry : ladders_[index(locate, side)]) result.push_back(level_at(entry));
  return result;
}

std::uint64_t OrderBook::digest() const noexcept {
  std::uint64_t hash = 0xcbf29ce484222325;  // FNV-1a 64-bit offset basis and prime
  const auto mix = [&hash](std::uint64_t value) {
    for (int byte = 0; byte < 8; ++byte, value >>= 8) hash = (hash ^ (value & 0xFF)) * 0x100000001b3;
  };
  for (std::size_t ladder = 0; ladder < ladders_.size(); ++ladder) {
    if (ladders_[ladder].empty()) continue;
    mix(ladder);
    for (const LadderEntry& entry : ladders_[ladder]) {
      const PriceLevel level = level_at(entry);
      mix(level.price);
      mix(level.orders);
      mix(level.shares);
    }
  }
  mix(orders_.size());
  return hash;
}

}  // namespace aether::feed
