// Publisher and handler on two ends of an in-memory wire, polled in turn:
// the day arrives with every 25th data packet missing, the handler asks the
// publisher's request server for each gap, and ends with the whole day's
// book; every frame on both sides is accounted for.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "../dataplane/memory_wire.hpp"
#include "aether/feed/feed_handler.hpp"
#include "aether/feed/feed_publisher.hpp"

namespace aether::feed {
namespace {

TEST(FeedPublisher, InjectedGapsAreRecoveredFromItsRequestServer) {
  DayConfig day_config;
  day_config.symbols = 200;
  day_config.messages = 50'000;
  auto day = record_day(day_config);
  ASSERT_TRUE(day) << day.error().describe();

  auto publisher_pool = test::make_pool(1024, "publisher");
  auto handler_pool = test::make_pool(4096, "handler");
  test::MemoryQueue publisher_queue(*publisher_pool);
  test::MemoryQueue handler_queue(*handler_pool);
  publisher_queue.connect(handler_queue);
  handler_queue.connect(publisher_queue);

  FeedPublisherConfig publisher_config;
  publisher_config.source = {*net::parse_mac("02:00:00:00:0c:01"), *net::parse_ipv4_be("10.0.12.1"), htons(26400)};
  const std::uint32_t group_ip = *net::parse_ipv4_be("239.54.12.111");
  publisher_config.group = {multicast_mac(group_ip), group_ip, htons(26400)};
  publisher_config.gap_every = 25;
  FeedPublisher publisher(publisher_queue, *publisher_pool, *day, publisher_config);
  FeedHandlerConfig handler_config;
  handler_config.local = {*net::parse_mac("02:00:00:00:0c:02"), *net::parse_ipv4_be("10.0.12.2"), htons(26401)};
  handler_config.request_timeout_ticks = 0;  // polled in turn: an answer is always there by the next poll
  FeedHandler handler(handler_queue, *handler_pool, handler_config);

  const auto& sent = publisher.counters();
  const auto& received = handler.counters();
  for (int polls = 0; polls < 1'000'000 && received.end_of_session_applied.get() == 0; ++polls) {
    publisher.poll();
    handler.poll();
  }
  while (publisher.poll() || handler.poll()) {}  // the last orders reach the publisher

  EXPECT_EQ(sent.done.get(), 1u);
  EXPECT_EQ(received.end_of_session_applied.get(), 1u) << "the whole day was applied";
  EXPECT_GT(sent.packets_skipped.get(), 200u);
  EXPECT_EQ(received.gaps.get(), sent.packets_skipped.get()) << "every injected gap detected";
  EXPECT_EQ(received.messages_missed.get(), sent.messages_skipped.get());
  EXPECT_EQ(received.messages_recovered.get(), sent.messages_skipped.get()) << "and recovered";
  EXPECT_EQ(received.messages_applied.get(), day->stats.messages);
  EXPECT_EQ(handler.book().digest(), day->book_digest) << "the book equals the whole day's";
  EXPECT_FALSE(handler.stale());

  // rx = tx + counted drops, both ways.
  EXPECT_EQ(received.frames.get(),
            sent.packets_sent.get() + sent.requests_answered.get() + sent.end_of_session_repeats.get());
  EXPECT_EQ(received.frames.get(), received.frames_accounted());
  EXPECT_EQ(sent.requests.get(), received.requests_sent.get());
  EXPECT_EQ(sent.requests.get(), sent.requests_answered.get() + sent.requests_refused.get() + sent.answers_dropped.get());
  EXPECT_EQ(sent.orders.get(), received.orders_sent.get());
  EXPECT_GT(sent.orders.get(), 0u);
  EXPECT_EQ(sent.orders_untimed.get(), 0u) << "every order names the message that triggered it";
  EXPECT_EQ(publisher.wire_to_wire_ticks().count(), sent.orders.get());
  EXPECT_EQ(sent.other_frames.get(), 0u);
}

TEST(FeedPublisher, MulticastMacOfAGroupAndBroadcastForUnicast) {
  EXPECT_EQ(multicast_mac(*net::parse_ipv4_be("239.54.12.111")), (net::MacAddress{0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f}));
  EXPECT_EQ(multicast_mac(*net::parse_ipv4_be("239.182.12.111")), (net::MacAddress{0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f}))
      << "the 24th bit is not mapped (RFC 1112 6.4)";
  EXPECT_EQ(multicast_mac(*net::parse_ipv4_be("127.0.0.1")), (net::MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

}  // namespace
}  // namespace aether::feed
