// A hostile stream: random book messages over a small space of references,
// locates, sides, shares and prices (so duplicates, unknown references,
// overfills, replaces onto live orders, locate 0 and bad sides all happen
// often). The fast book must neither crash (ASan/UBSan run this too) nor
// diverge from the reference book.
#include <random>

#include <gtest/gtest.h>

#include "aether/feed/book_check.hpp"

namespace aether::feed {
namespace {

template <class T>
T with_header(std::uint16_t locate) {
  T message{};
  message.header.message_type = T::type;
  message.header.stock_locate.set(locate);
  return message;
}

TEST(HostileStream, RandomBookMessagesNeverDivergeFromTheReference) {
  BookCheck books(16);  // tiny table: it grows and wraps constantly
  std::mt19937_64 random(77);
  const auto small = [&random](std::uint64_t bound) { return random() % bound; };
  for (int step = 0; step < 300'000; ++step) {
    const auto locate = static_cast<std::uint16_t>(small(4) == 0 ? 65535 - small(2) : small(6));
    const std::uint64_t reference = small(200);
    const auto shares = static_cast<std::uint32_t>(small(5) == 0 ? 0xFFFFFFFFu - small(3) : small(400));
    const auto price = static_cast<std::uint32_t>(small(3) == 0 ? 0xFFFFFFF0u + small(16) : 1 + small(30));
    switch (small(7)) {
      case 0: {
        auto message = with_header<itch::AddOrder>(locate);
        message.order_reference.set(reference);
        message.side = "BSX"[small(3)];
        message.shares.set(shares);
        message.price.set(price);
        books.on(message);
        break;
      }
      case 1: {
        auto message = with_header<itch::AddOrderWithMpid>(locate);
        message.order_reference.set(reference);
        message.side = "BS"[small(2)];
        message.shares.set(shares);
        message.price.set(price);
        books.on(message);
        break;
      }
      case 2: {
        auto message = with_header<itch::OrderExecuted>(locate);
        message.order_reference.set(reference);
        message.executed_shares.set(shares);
        books.on(message);
        break;
      }
      case 3: {
        auto message = with_header<itch::OrderExecutedWithPrice>(locate);
        message.order_reference.set(reference);
        message.executed_shares.set(shares);
        books.on(message);
        break;
      }
      case 4: {
        auto message = with_header<itch::OrderCancel>(locate);
        message.order_reference.set(reference);
        message.cancelled_shares.set(shares);
        books.on(message);
        break;
      }
      case 5: {
        auto message = with_header<itch::OrderDelete>(locate);
        message.order_reference.set(reference);
        books.on(message);
        break;
      }
      default: {
        auto message = with_header<itch::OrderReplace>(locate);
        message.original_order_reference.set(reference);
        message.new_order_reference.set(small(200));
        message.shares.set(shares);
        message.price.set(price);
        books.on(message);
        break;
      }
    }
    if (step % 10'000 == 0) {
      ASSERT_EQ(books.compare_all(), 0u) << "at step " << step;
    }
  }
  EXPECT_EQ(books.top_divergences(), 0u);
  EXPECT_EQ(books.compare_all(), 0u);
  const BookAnomalies& anomalies = books.fast().anomalies();
  EXPECT_GT(anomalies.bad_add, 0u);
  EXPECT_GT(anomalies.duplicate_order, 0u);
  EXPECT_GT(anomalies.unknown_order, 0u);
  EXPECT_GT(anomalies.overfill, 0u);
}

}  // namespace
}  // namespace aether::feed
