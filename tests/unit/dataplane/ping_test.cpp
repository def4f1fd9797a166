// The pinger against an echo responder with a local address, joined in
// memory: ARP resolved, every ICMP and UDP request answered once; and what
// the report says when the peer is missing, answers twice or asks first.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <thread>

#include "aether/dataplane/echo.hpp"
#include "aether/dataplane/ping.hpp"
#include "aether/net/arp.hpp"
#include "aether/net/icmp.hpp"
#include "memory_wire.hpp"

namespace aether::test {
namespace {

using namespace std::chrono_literals;

const dataplane::LocalAddress pinger_address{*net::parse_mac("02:00:00:00:04:02"), *net::parse_ipv4_be("10.0.4.2")};
const dataplane::LocalAddress peer_address{*net::parse_mac("02:00:00:00:04:01"), *net::parse_ipv4_be("10.0.4.1")};

// The peer runs on its own thread, as a kernel would.
class PingTest : public ::testing::Test {
 protected:
  PingTest() {
    pinger_queue_.connect(peer_queue_);
    peer_queue_.connect(pinger_queue_);
    options_.local = pinger_address;
    options_.peer_ip_be = peer_address.ip_be;
    options_.count = 20;
    options_.interval = 0ms;
    options_.arp_timeout = 200ms;
    options_.reply_timeout = 200ms;
  }

  std::unique_ptr<mem::Mempool> pinger_pool_ = make_pool(512, "pinger");
  std::unique_ptr<mem::Mempool> peer_pool_ = make_pool(512, "peer");
  MemoryQueue pinger_queue_{*pinger_pool_};
  MemoryQueue peer_queue_{*peer_pool_};
  dataplane::PingOptions options_;
};

// The memory queues are not thread-safe: the peer is polled between the
// pinger's polls, through a queue wrapper that runs it on every rx_burst.
class PeerDrivenQueue final : public net::Queue {
 public:
  PeerDrivenQueue(MemoryQueue& own, dataplane::Poller& peer) : own_(own), peer_(peer) {}
  unsigned rx_burst(std::span<mem::Packet*> packets) noexcept override {
    while (peer_.poll()) {
    }
    return own_.rx_burst(packets);
  }
  unsigned tx_burst(std::span<mem::Packet*> packets) noexcept override { return own_.tx_burst(packets); }

 private:
  MemoryQueue& own_;
  dataplane::Poller& peer_;
};

TEST_F(PingTest, ResolvesThePeerAndCountsEveryReply) {
  dataplane::EchoResponder peer(peer_queue_, *peer_pool_, peer_address);
  PeerDrivenQueue queue(pinger_queue_, peer);
  auto report = dataplane::ping_peer(queue, *pinger_pool_, options_);
  ASSERT_TRUE(report) << report.error().describe();
  ASSERT_TRUE(report->peer_mac);
  EXPECT_EQ(*report->peer_mac, peer_address.mac);
  EXPECT_EQ(report->arp_requests_sent, 1u);
  EXPECT_EQ(report->arp_replies, 1u);
  EXPECT_EQ(report->icmp_sent, 20u);
  EXPECT_EQ(report->icmp_replies, 20u);
  EXPECT_EQ(report->udp_sent, 20u);
  EXPECT_EQ(report->udp_replies, 20u);
  EXPECT_EQ(report->other_frames, 0u);
  EXPECT_TRUE(report->complete(options_));
  const auto& c = peer.counters();
  EXPECT_EQ(c.arp_replies.get(), 1u);
  EXPECT_EQ(c.icmp_replies.get(), 20u);
  EXPECT_EQ(c.udp_replies.get(), 20u);
  EXPECT_EQ(pinger_pool_->available(), 512u);
}

TEST_F(PingTest, ReportsAMissingPeerAfterItsArpAttempts) {
  options_.arp_attempts = 2;
  options_.arp_timeout = 20ms;
  auto report = dataplane::ping_peer(pinger_queue_, *pinger_pool_, options_);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->peer_mac);
  EXPECT_EQ(report->arp_requests_sent, 2u);
  EXPECT_EQ(report->icmp_sent, 0u);
  EXPECT_FALSE(report->complete(options_));
}

TEST_F(PingTest, AnswersThePeersArpAndPingAndCountsStrangers) {
  // Before any reply: the peer asks for our MAC and pings us; a stranger's
  // ARP request for another address and an IPv6 frame also arrive.
  std::vector<std::byte> frame(net::min_ethernet_frame);
  ASSERT_NE(net::write_arp_request(frame, peer_address.mac, peer_address.ip_be, pinger_address.ip_be), 0u);
  pinger_queue_.deliver(frame);
  ASSERT_NE(net::write_arp_request(frame, peer_address.mac, peer_address.ip_be, *net::parse_ipv4_be("10.0.4.7")), 0u);
  pinger_queue_.deliver(frame);
  std::vector<std::byte> ping(net::min_ethernet_frame);  // 8 bytes of data, padded
  ASSERT_NE(net::write_icmp_echo_request(ping, peer_address.mac, peer_address.ip_be, pinger_address.mac,
                                         pinger_address.ip_be, 1, 1, 8),
            0u);
  pinger_queue_.deliver(ping);
  frame[12] = std::byte{0x86}, frame[13] = std::byte{0xdd};
  pinger_queue_.deliver(frame);

  dataplane::EchoResponder peer(peer_queue_, *peer_pool_, peer_address);
  PeerDrivenQueue queue(pinger_queue_, peer);
  auto report = dataplane::ping_peer(queue, *pinger_pool_, options_);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->complete(options_));
  EXPECT_EQ(report->peer_arp_requests_answered, 1u);
  EXPECT_EQ(report->peer_icmp_requests_answered, 1u);
  EXPECT_EQ(report->other_frames, 2u);
  EXPECT_EQ(report->received, 1 + 20 + 20 + 4u);
  // The peer got our ARP reply and our echo reply (and counted them as not
  // its to answer).
  EXPECT_EQ(peer.counters().dropped_not_for_us.get(), 2u);
}

TEST_F(PingTest, CountsDuplicateRepliesAndIsThenIncomplete) {
  // A peer that answers every frame twice: a wrapper around its queue
  // duplicates each transmitted frame.
  class Doubling final : public net::Queue {
   public:
    explicit Doubling(MemoryQueue& own) : own_(own) {}
    unsigned rx_burst(std::span<mem::Packet*> packets) noexcept override { return own_.rx_burst(packets); }
    unsigned tx_burst(std::span<mem::Packet*> packets) noexcept override {
      for (mem::Packet* packet : packets) target->deliver(std::span(packet->data(), packet->length()));
      return own_.tx_burst(packets);
    }
    MemoryQueue* target = nullptr;

   private:
    MemoryQueue& own_;
  } doubling(peer_queue_);
  doubling.target = &pinger_queue_;
  dataplane::EchoResponder peer(doubling, *peer_pool_, peer_address);
  PeerDrivenQueue queue(pinger_queue_, peer);
  options_.count = 5;
  auto report = dataplane::ping_peer(queue, *pinger_pool_, options_);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->icmp_replies, 5u);
  EXPECT_EQ(report->udp_replies, 5u);
  EXPECT_EQ(report->duplicate_replies, 10u);
  EXPECT_FALSE(report->complete(options_));
}

// The exchange as a runtime poller: driven poll by poll (never blocking),
// done once over, with one round trip recorded per ICMP reply.
TEST_F(PingTest, ThePollerRunsTheExchangeAndRecordsRoundTrips) {
  dataplane::EchoResponder peer(peer_queue_, *peer_pool_, peer_address);
  PeerDrivenQueue queue(pinger_queue_, peer);
  auto poller = dataplane::PingPoller::create(queue, *pinger_pool_, options_);
  ASSERT_TRUE(poller) << poller.error().describe();
  std::uint64_t polls = 0;
  while (!(*poller)->done()) {
    (*poller)->poll();
    ++polls;
  }
  EXPECT_GT(polls, 20u);  // at least one poll per request pair: each poll sends what is due, no more
  EXPECT_FALSE((*poller)->poll());  // over: nothing more to do
  const dataplane::PingReport& report = (*poller)->report();
  EXPECT_TRUE(report.complete(options_));
  EXPECT_FALSE(report.stopped);
  EXPECT_EQ((*poller)->round_trips().live().count(), 20u);
}

TEST_F(PingTest, AStoppedPollerSaysSo) {
  dataplane::EchoResponder peer(peer_queue_, *peer_pool_, peer_address);
  PeerDrivenQueue queue(pinger_queue_, peer);
  options_.interval = 1h;  // would never finish by itself
  auto poller = dataplane::PingPoller::create(queue, *pinger_pool_, options_);
  ASSERT_TRUE(poller) << poller.error().describe();
  for (int i = 0; i < 1000 && (*poller)->report().icmp_sent == 0; ++i) (*poller)->poll();
  EXPECT_EQ((*poller)->report().icmp_sent, 1u);
  (*poller)->stop();
  (*poller)->poll();
  EXPECT_TRUE((*poller)->done());
  EXPECT_TRUE((*poller)->report().stopped);
  EXPECT_FALSE((*poller)->report().complete(options_));
}

TEST_F(PingTest, RefusesOptionsThatCannotWork) {
  options_.count = 0;
  EXPECT_FALSE(dataplane::ping_peer(pinger_queue_, *pinger_pool_, options_));
  options_.count = 1;
  options_.payload_size = 2;
  EXPECT_FALSE(dataplane::ping_peer(pinger_queue_, *pinger_pool_, options_));
}

}  // namespace
}  // namespace aether::test
