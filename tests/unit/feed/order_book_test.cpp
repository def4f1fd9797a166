// The fast order book against the reference book: zero divergence over a
// generated day of over a million messages (best bid and offer of the
// touched symbol after every message, every level of every symbol
// periodically and at the end), the same handling of inconsistent
// messages, and the order table's probing and deletion against std::map.
#include <map>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "aether/feed/day_generator.hpp"
#include "aether/feed/itch_decoder.hpp"
#include "aether/feed/book_check.hpp"

namespace aether::feed {
namespace {

TEST(OrderBook, ZeroDivergenceFromTheReferenceOverAGeneratedDay) {
  DayConfig config;
  config.seed = 2026;
  config.symbols = 2000;
  config.messages = 1'100'000;
  auto books = std::make_unique<BookCheck>(std::size_t{1} << 16);  // small on purpose: the table must grow
  DropCounters drops;
  std::uint64_t messages = 0;
  std::uint64_t full_checks = 0;
  std::uint64_t full_check_divergences = 0;
  const PacketSink sink = [&](std::span<const std::byte> packet, std::uint64_t) -> Result<void> {
    (void)mold::parse_packet(packet, drops, [&](std::uint64_t, std::span<const std::byte> bytes) {
      (void)decode_message(bytes, *books, drops);
      if (++messages % 65536 == 0) {
        full_check_divergences += books->compare_all();
        ++full_checks;
      }
    });
    return {};
  };
  auto stats = generate_day(config, sink);
  ASSERT_TRUE(stats) << stats.error().describe();
  EXPECT_EQ(messages, config.messages);
  EXPECT_EQ(drops.total(), 0u);
  EXPECT_GT(books->book_messages(), 1'000'000u);
  EXPECT_EQ(books->top_divergences(), 0u);
  EXPECT_EQ(full_check_divergences, 0u) << "over " << full_checks << " full comparisons";
  EXPECT_EQ(books->compare_all(), 0u);
  // The generator only names live orders, so a correct book sees no anomaly.
  EXPECT_EQ(books->fast().anomalies(), BookAnomalies{});
  EXPECT_EQ(books->fast().order_count(), stats->live_orders_at_close);
}

itch::AddOrder add(std::uint64_t reference, std::uint16_t locate, char side, std::uint32_t shares, std::uint32_t price) {
  itch::AddOrder message{};
  message.header.message_type = 'A';
  message.header.stock_locate.set(locate);
  message.order_reference.set(reference);
  message.side = side;
  message.shares.set(shares);
  message.price.set(price);
  return message;
}

template <class T>
T referencing(std::uint64_t reference) {
  T message{};
  message.header.message_type = T::type;
  message.order_reference.set(reference);
  return message;
}

itch::OrderReplace replace(std::uint64_t original, std::uint64_t replacement, std::uint32_t shares, std::uint32_t price) {
  itch::OrderReplace message{};
  message.header.message_type = 'U';
  message.original_order_reference.set(original);
  message.new_order_reference.set(replacement);
  message.shares.set(shares);
  message.price.set(price);
  return message;
}

TEST(OrderBook, AggregatesLevelsAndHandlesInconsistentMessagesLikeTheReference) {
  BookCheck books;
  books.on(add(1, 5, 'B', 100, 10'0000));
  books.on(add(2, 5, 'B', 200, 10'0000));
  books.on(add(3, 5, 'B', 300, 9'9900));
  books.on(add(4, 5, 'S', 50, 10'0100));
  ASSERT_EQ(books.fast().best(5, Side::buy), (PriceLevel{10'0000, 2, 300}));
  ASSERT_EQ(books.fast().best(5, Side::sell), (PriceLevel{10'0100, 1, 50}));

  books.on(add(5, 0, 'B', 100, 1));      // locate 0: bad add
  books.on(add(6, 5, 'X', 100, 1));      // side: bad add
  books.on(add(7, 5, 'B', 0, 1));        // 0 shares: bad add
  books.on(add(0, 5, 'B', 100, 1));      // reference 0: bad add
  books.on(add(1, 5, 'S', 100, 1));      // live reference: duplicate
  books.on(referencing<itch::OrderDelete>(99));  // unknown
  auto cancel = referencing<itch::OrderCancel>(2);
  cancel.cancelled_shares.set(150);
  books.on(cancel);  // 200 -> 50
  auto execute = referencing<itch::OrderExecuted>(1);
  execute.executed_shares.set(500);
  books.on(execute);  // more than 100 remain: overfill, removed
  EXPECT_EQ(books.fast().best(5, Side::buy), (PriceLevel{10'0000, 1, 50}));
  books.on(replace(2, 3, 10, 1));         // new reference live: original removed, duplicate
  books.on(replace(42, 43, 10, 1));       // unknown original
  books.on(replace(3, 8, 400, 10'0200));  // bid moves up, keeps side and locate
  EXPECT_EQ(books.fast().best(5, Side::buy), (PriceLevel{10'0200, 1, 400}));
  books.on(referencing<itch::OrderDelete>(8));
  books.on(referencing<itch::OrderDelete>(4));
  EXPECT_FALSE(books.fast().best(5, Side::buy));
  EXPECT_FALSE(books.fast().best(5, Side::sell));
  EXPECT_EQ(books.fast().order_count(), 0u);

  const BookAnomalies expected{.bad_add = 4, .duplicate_order = 2, .unknown_order = 2, .overfill = 1};
  EXPECT_EQ(books.fast().anomalies(), expected);
  EXPECT_EQ(books.reference().anomalies(), expected);
  EXPECT_EQ(books.top_divergences(), 0u);
  EXPECT_EQ(books.compare_all(), 0u);
}

TEST(OrderTable, MatchesAMapUnderCollidingReferencesAndGrowth) {
  OrderTable table(8);  // 16 slots, grows as it fills
  std::map<std::uint64_t, std::uint32_t> model;
  std::mt19937_64 random(5);
  for (int step = 0; step < 200'000; ++step) {
    // References that share low bits collide on purpose (same home slot).
    const std::uint64_t reference = 1 + (random() % 64) * 1024 + (random() % 4);
    if (random() % 3 != 0) {
      if (table.find(reference) == nullptr) {
        table.insert(LiveOrder{reference, static_cast<std::uint32_t>(step), 0});
        model[reference] = static_cast<std::uint32_t>(step);
      }
    } else if (LiveOrder* found = table.find(reference)) {
      table.erase(found);
      model.erase(reference);
    }
    ASSERT_EQ(table.size(), model.size());
  }
  for (const auto& [reference, shares] : model) {
    const LiveOrder* found = table.find(reference);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->shares, shares);
  }
  EXPECT_EQ(table.find(0), nullptr);
  EXPECT_LE(table.size() * 2, table.capacity());
}

}  // namespace
}  // namespace aether::feed
