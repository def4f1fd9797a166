// The feed handler on an in-memory wire: a generated day with packets lost
// on the way is recovered through MoldUDP64 re-requests answered by a
// RetransmissionStore, every gap is detected, the book ends equal to one fed
// the whole day, and the strategy's orders are well-formed OUCH 4.2.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "../dataplane/memory_wire.hpp"
#include "aether/feed/day_generator.hpp"
#include "aether/feed/feed_handler.hpp"
#include "aether/feed/itch_decoder.hpp"
#include "aether/feed/ouch.hpp"
#include "aether/feed/retransmission_store.hpp"

namespace aether::feed {
namespace {

const net::UdpEndpoint publisher{*net::parse_mac("02:00:00:00:0b:01"), *net::parse_ipv4_be("10.0.11.1"), htons(26400)};
const net::UdpEndpoint group{*net::parse_mac("01:00:5e:36:0c:6f"), *net::parse_ipv4_be("239.54.12.111"), htons(26400)};
const net::UdpEndpoint handler_address{*net::parse_mac("02:00:00:00:0b:02"), *net::parse_ipv4_be("10.0.11.2"),
                                       htons(26401)};

struct Day {
  std::vector<std::vector<std::byte>> packets;  // MoldUDP64 payloads, in order
  RetransmissionStore store{"AETHER0001"};
  OrderBook book;                               // fed every message
};

Day make_day(std::uint64_t messages) {
  Day day;
  DayConfig config;
  config.symbols = 300;
  config.messages = messages;
  DropCounters drops;
  auto stats = generate_day(config, [&](std::span<const std::byte> packet, std::uint64_t) -> Result<void> {
    day.packets.emplace_back(packet.begin(), packet.end());
    (void)mold::parse_packet(packet, drops, [&](std::uint64_t, std::span<const std::byte> message) {
      day.store.append(message);
      (void)decode_message(message, day.book, drops);
    });
    return {};
  });
  EXPECT_TRUE(stats) << stats.error().describe();
  EXPECT_EQ(drops.total(), 0u);
  return day;
}

std::vector<std::byte> frame_of(std::span<const std::byte> payload, const net::UdpEndpoint& from,
                                const net::UdpEndpoint& to) {
  std::vector<std::byte> frame(std::max(net::udp_frame_header_size + payload.size(), net::min_ethernet_frame));
  EXPECT_NE(net::write_udp_headers(frame, from, to, payload.size()), 0u);
  std::memcpy(frame.data() + net::udp_frame_header_size, payload.data(), payload.size());
  return frame;
}

// The handler's wire plus the publisher's request server.
class FeedHandlerTest : public ::testing::Test {
 protected:
  FeedHandlerConfig config() const {
    FeedHandlerConfig handler_config;
    handler_config.local = handler_address;
    handler_config.expected_orders = 1 << 12;  // grows: the warm-up of a real run
    return handler_config;
  }
  void run(FeedHandler& handler) {
    while (queue_.waiting() > 0) handler.poll();
  }
  // Answers every re-request the handler sent since the last call; the
  // orders are collected. Returns how many requests it answered.
  unsigned serve(const Day& day) {
    unsigned answered = 0;
    for (; seen_ < queue_.sent.size(); ++seen_) {
      std::vector<std::byte>& frame = queue_.sent[seen_];
      net::FrameError error{};
      const auto udp = net::parse_udp_frame(frame, error);
      if (!udp) {
        ADD_FAILURE() << "the handler sent a frame that is not UDP: " << net::to_string(error);
        continue;
      }
      EXPECT_EQ(udp->ip->destination_be, publisher.ip_be) << "requests and orders go to the feed's sender";
      EXPECT_EQ(udp->udp->destination_port_be, publisher.port_be);
      if (udp->payload.size() == sizeof(ouch::EnterOrder)) {
        orders_.push_back(load_order(udp->payload));
        continue;
      }
      EXPECT_EQ(udp->payload.size(), mold::header_size);
      std::vector<std::byte> buffer(mold::header_size + mold::default_payload_size);
      const auto answer = day.store.answer(udp->payload, buffer);
      if (answer.empty()) continue;
      queue_.deliver(frame_of(answer, publisher, handler_address));
      ++answered;
    }
    return answered;
  }
  static ouch::EnterOrder load_order(std::span<const std::byte> bytes) {
    ouch::EnterOrder order;
    std::memcpy(&order, bytes.data(), sizeof(order));
    return order;
  }
  static void expect_same_book(const OrderBook& handler_book, const OrderBook& reference) {
    EXPECT_EQ(handler_book.order_count(), reference.order_count());
    EXPECT_EQ(handler_book.anomalies(), reference.anomalies());
    std::uint64_t differing_ladders = 0;
    for (std::uint32_t locate = 0; locate < 65536; ++locate) {
      for (Side side : {Side::buy, Side::sell}) {
        const auto a = handler_book.levels(static_cast<std::uint16_t>(locate), side);
        const auto b = reference.levels(static_cast<std::uint16_t>(locate), side);
        if (!std::equal(a.begin(), a.end(), b.begin(), b.end())) ++differing_ladders;
      }
    }
    EXPECT_EQ(differing_ladders, 0u);
  }

  std::unique_ptr<mem::Mempool> pool_ = test::make_pool(8192, "feed-handler-test");
  test::MemoryQueue queue_{*pool_};
  std::size_t seen_ = 0;
  std::vector<ouch::EnterOrder> orders_;
};

TEST_F(FeedHandlerTest, RecoversEveryInjectedGapAndEndsWithTheFullDaysBook) {
  const Day day = make_day(60'000);
  FeedHandler handler(queue_, *pool_, config());
  // Lose one data packet in 40, and 6 in a row once: the gaps are the runs
  // of lost packets (a heartbeat between two losses splits them).
  std::uint64_t expected_gaps = 0, expected_missed = 0;
  bool previous_lost = false;
  DropCounters drops;
  for (std::size_t i = 0; i < day.packets.size(); ++i) {
    const auto info = mold::parse_packet(day.packets[i], drops, [](std::uint64_t, std::span<const std::byte>) {});
    const bool lose = info.kind == mold::PacketKind::data && (i % 40 == 17 || (i >= 500 && i < 506));
    if (lose) {
      expected_gaps += previous_lost ? 0 : 1;
      expected_missed += info.message_count;
    } else {
      queue_.deliver(frame_of(day.packets[i], publisher, group));
      run(handler);
      while (serve(day) > 0) run(handler);
    }
    previous_lost = lose;
  }
  ASSERT_GT(expected_gaps, 30u);
  const auto& counters = handler.counters();
  EXPECT_EQ(counters.gaps.get(), expected_gaps) << "every gap detected, once";
  EXPECT_EQ(counters.messages_missed.get(), expected_missed);
  EXPECT_EQ(counters.messages_recovered.get(), expected_missed) << "every lost message came back";
  EXPECT_EQ(counters.gaps_recovered.get(), expected_gaps);
  EXPECT_GT(counters.gap_symbols_recovered.get(), 0u);
  EXPECT_FALSE(handler.stale());
  EXPECT_EQ(handler.next_to_apply(), day.store.next_sequence());
  EXPECT_EQ(counters.messages_applied.get(), day.store.next_sequence() - 1);
  EXPECT_EQ(counters.frames.get(), counters.frames_accounted());
  EXPECT_EQ(counters.dropped_not_udp.get() + counters.dropped_hold_full.get() + counters.dropped_out_of_order.get(), 0u);
  EXPECT_EQ(handler.message_drops().total(), 0u);
  EXPECT_EQ(counters.requests_dropped.get(), 0u);
  EXPECT_GE(counters.requests_sent.get(), expected_gaps);
  expect_same_book(handler.book(), day.book);

  ASSERT_GT(orders_.size(), 1000u) << "the strategy traded on best bid/offer changes";
  EXPECT_EQ(orders_.size(), counters.orders_sent.get());
  EXPECT_EQ(counters.orders_dropped.get(), 0u);
  for (const ouch::EnterOrder& order : orders_) {
    EXPECT_EQ(order.message_type, 'O');
    EXPECT_TRUE(order.buy_sell_indicator == 'B' || order.buy_sell_indicator == 'S');
    EXPECT_EQ(order.shares.value(), 100u);
    EXPECT_GT(order.price.value(), 0u);
    EXPECT_NE(order.stock.text(), "?") << "every symbol is named by the directory first";
  }
  // Tokens: the triggering message's sequence number, increasing.
  std::uint64_t previous_token = 0;
  for (const ouch::EnterOrder& order : orders_) {
    const std::uint64_t token = ouch::token_number(order.order_token);
    EXPECT_GT(token, previous_token);
    EXPECT_LT(token, day.store.next_sequence());
    previous_token = token;
  }
  EXPECT_EQ(handler.tick_to_trade_ticks().count(), orders_.size());
}

TEST_F(FeedHandlerTest, AFullHoldDropsAndAsksAgainUntilRecovered) {
  const Day day = make_day(20'000);
  FeedHandlerConfig small_hold = config();
  small_hold.hold_capacity = 4;
  small_hold.request_timeout_ticks = 0;  // every poll asks again while stale
  FeedHandler handler(queue_, *pool_, small_hold);
  // A data packet in the middle of the day is lost and the next 30 data
  // packets arrive before any answer (a quiet day: mostly heartbeats).
  std::vector<std::size_t> data_packets;
  DropCounters drops;
  for (std::size_t i = 0; i < day.packets.size(); ++i) {
    const auto info = mold::parse_packet(day.packets[i], drops, [](std::uint64_t, std::span<const std::byte>) {});
    if (info.kind == mold::PacketKind::data) data_packets.push_back(i);
  }
  const std::size_t lost = data_packets[data_packets.size() / 2];
  const std::size_t answered_from = data_packets[data_packets.size() / 2 + 30];
  for (std::size_t i = 0; i < day.packets.size(); ++i) {
    if (i != lost) queue_.deliver(frame_of(day.packets[i], publisher, group));
    if (i >= lost && i < answered_from) continue;
    run(handler);
    for (int rounds = 0; rounds < 1000 && serve(day) > 0; ++rounds) run(handler);
  }
  const auto& counters = handler.counters();
  EXPECT_GT(counters.dropped_hold_full.get(), 0u);
  EXPECT_FALSE(handler.stale());
  EXPECT_EQ(handler.next_to_apply(), day.store.next_sequence());
  EXPECT_EQ(counters.frames.get(), counters.frames_accounted());
  expect_same_book(handler.book(), day.book);
}

TEST_F(FeedHandlerTest, CountsEveryFrameItCannotUse) {
  FeedHandler handler(queue_, *pool_, config());
  const Day day = make_day(minimum_day_messages(300) + 100);
  queue_.deliver(frame_of(day.packets[0], publisher, group));     // learns the session
  std::vector<std::byte> not_udp(80, std::byte{0x42});
  queue_.deliver(not_udp);
  std::vector<std::byte> short_packet(10, std::byte{0});
  queue_.deliver(frame_of(short_packet, publisher, group));
  std::vector<std::byte> other_session = day.packets[1];
  std::memcpy(other_session.data(), "OTHER00001", 10);
  queue_.deliver(frame_of(other_session, publisher, group));
  std::vector<std::byte> cut = day.packets[1];
  cut.resize(cut.size() - 5);  // the last block runs past the end
  queue_.deliver(frame_of(cut, publisher, group));
  run(handler);
  const auto& counters = handler.counters();
  EXPECT_EQ(counters.frames.get(), 5u);
  EXPECT_EQ(counters.dropped_not_udp.get(), 1u);
  EXPECT_EQ(counters.dropped_bad_packet.get(), 1u);
  EXPECT_EQ(counters.dropped_other_session.get(), 1u);
  EXPECT_EQ(handler.message_drops()[DropReason::truncated_block], 1u);
  EXPECT_EQ(counters.frames.get(), counters.frames_accounted());
}

}  // namespace
}  // namespace aether::feed
