// The echo responder with and without a local address: ARP and ICMP echo
// answered for the local address only, UDP echoed, everything else counted,
// and rx = tx + drops after every mix of frames.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <vector>

#include "aether/dataplane/echo.hpp"
#include "aether/net/arp.hpp"
#include "aether/net/icmp.hpp"
#include "memory_wire.hpp"

namespace aether::test {
namespace {

using dataplane::EchoCounters;
using dataplane::EchoResponder;
using dataplane::LocalAddress;

const net::MacAddress host_mac = *net::parse_mac("02:00:00:00:03:01");
const std::uint32_t host_ip = *net::parse_ipv4_be("10.0.3.1");
const LocalAddress local{*net::parse_mac("02:00:00:00:03:02"), *net::parse_ipv4_be("10.0.3.2")};
const std::uint32_t other_ip = *net::parse_ipv4_be("10.0.3.9");

std::vector<std::byte> arp_request(std::uint32_t target_ip, std::size_t length = net::arp_frame_size) {
  std::vector<std::byte> frame(net::min_ethernet_frame);
  EXPECT_NE(net::write_arp_request(frame, host_mac, host_ip, target_ip), 0u);
  frame.resize(length);  // Linux sends 42 bytes on a veth: no padding
  return frame;
}

std::vector<std::byte> ping(std::uint32_t destination, std::uint16_t sequence, std::size_t data = 56) {
  std::vector<std::byte> frame(net::icmp_echo_frame_header_size + data);
  for (std::size_t i = 0; i < data; ++i) frame[net::icmp_echo_frame_header_size + i] = std::byte(i);
  EXPECT_NE(net::write_icmp_echo_request(frame, host_mac, host_ip, local.mac, destination, 77, sequence, data), 0u);
  return frame;
}

std::vector<std::byte> udp(std::uint32_t destination, std::size_t payload = 18) {
  std::vector<std::byte> frame(std::max(net::udp_frame_header_size + payload, net::min_ethernet_frame));
  EXPECT_NE(net::write_udp_headers(frame, {host_mac, host_ip, htons(5000)}, {local.mac, destination, htons(7)}, payload),
            0u);
  return frame;
}

class EchoResponderTest : public ::testing::Test {
 protected:
  void run(EchoResponder& echo) {
    while (queue_.waiting() > 0) echo.poll();
  }
  static void expect_balanced(const EchoCounters& c) {
    EXPECT_EQ(c.received.get(), c.sent.get() + c.dropped()) << "rx = tx + drops";
  }

  std::unique_ptr<mem::Mempool> pool_ = make_pool(256, "echo-test");
  MemoryQueue queue_{*pool_};
};

TEST_F(EchoResponderTest, AnswersArpForItsAddressOnly) {
  EchoResponder echo(queue_, *pool_, local);
  queue_.deliver(arp_request(local.ip_be));
  queue_.deliver(arp_request(other_ip));
  auto reply = arp_request(local.ip_be);
  auto view = net::parse_arp_frame(reply);
  net::turn_into_arp_reply(*view, host_mac);  // an ARP reply is not ours to answer
  queue_.deliver(reply);
  run(echo);

  ASSERT_EQ(queue_.sent.size(), 1u);
  auto& answer = queue_.sent[0];
  EXPECT_EQ(answer.size(), net::min_ethernet_frame) << "a 42-byte request gets a padded reply";
  const auto arp = net::parse_arp_frame(answer);
  ASSERT_TRUE(arp);
  EXPECT_EQ(ntohs(arp->arp->operation_be), net::arp_operation_reply);
  EXPECT_EQ(arp->arp->sender_mac, local.mac);
  EXPECT_EQ(arp->arp->sender_ip_be, local.ip_be);
  EXPECT_EQ(arp->arp->target_mac, host_mac);
  EXPECT_EQ(arp->arp->target_ip_be, host_ip);
  EXPECT_EQ(arp->ethernet->destination, host_mac);
  const auto& c = echo.counters();
  EXPECT_EQ(c.arp_replies.get(), 1u);
  EXPECT_EQ(c.dropped_not_for_us.get(), 2u);
  expect_balanced(c);
}

TEST_F(EchoResponderTest, AnswersPingsWithValidChecksums) {
  EchoResponder echo(queue_, *pool_, local);
  for (std::uint16_t sequence = 0; sequence < 40; ++sequence) queue_.deliver(ping(local.ip_be, sequence));
  queue_.deliver(ping(other_ip, 1));
  run(echo);

  ASSERT_EQ(queue_.sent.size(), 40u);
  for (std::uint16_t sequence = 0; sequence < 40; ++sequence) {
    auto& frame = queue_.sent[sequence];
    net::FrameError frame_error{};
    const auto ipv4 = net::parse_ipv4_frame(frame, frame_error);  // checks the IP checksum
    ASSERT_TRUE(ipv4) << net::to_string(frame_error);
    net::IcmpError icmp_error{};
    const auto reply = net::parse_icmp_echo(*ipv4, icmp_error);  // checks the ICMP checksum
    ASSERT_TRUE(reply) << static_cast<int>(icmp_error);
    EXPECT_EQ(reply->icmp->type, net::icmp_type_echo_reply);
    EXPECT_EQ(ntohs(reply->icmp->sequence_be), sequence);
    EXPECT_EQ(reply->ip->source_be, local.ip_be);
    EXPECT_EQ(reply->ip->destination_be, host_ip);
    EXPECT_EQ(reply->message.size(), 64u);
  }
  const auto& c = echo.counters();
  EXPECT_EQ(c.icmp_replies.get(), 40u);
  EXPECT_EQ(c.dropped_not_for_us.get(), 1u);
  expect_balanced(c);
}

TEST_F(EchoResponderTest, CountsMalformedAndForeignFramesWithALocalAddress) {
  EchoResponder echo(queue_, *pool_, local);
  auto bad_checksum = ping(local.ip_be, 1);
  bad_checksum.back() ^= std::byte{0xff};
  queue_.deliver(bad_checksum);                     // malformed
  auto bad_arp = arp_request(local.ip_be);
  bad_arp[19] = std::byte{16};                      // protocol length 16: not IPv4 ARP
  queue_.deliver(bad_arp);                          // malformed
  queue_.deliver(udp(local.ip_be));                 // echoed
  queue_.deliver(udp(other_ip));                    // not for us
  auto ipv6 = udp(local.ip_be);
  ipv6[12] = std::byte{0x86}, ipv6[13] = std::byte{0xdd};
  queue_.deliver(ipv6);                             // not IPv4: by reason
  queue_.deliver(std::vector<std::byte>(10));       // too short: by reason
  run(echo);

  const auto& c = echo.counters();
  EXPECT_EQ(c.received.get(), 6u);
  EXPECT_EQ(c.sent.get(), 1u);
  EXPECT_EQ(c.udp_replies.get(), 1u);
  EXPECT_EQ(c.dropped_malformed.get(), 2u);
  EXPECT_EQ(c.dropped_not_for_us.get(), 1u);
  EXPECT_EQ(c.dropped_not_udp.get(), 2u);
  EXPECT_EQ(c.dropped_by_reason[static_cast<unsigned>(net::FrameError::not_ipv4)].get(), 1u);
  EXPECT_EQ(c.dropped_by_reason[static_cast<unsigned>(net::FrameError::too_short)].get(), 1u);
  expect_balanced(c);
}

TEST_F(EchoResponderTest, WithoutALocalAddressEchoesAllUdpAndNothingElse) {
  EchoResponder echo(queue_, *pool_);
  queue_.deliver(udp(other_ip));
  queue_.deliver(arp_request(local.ip_be));
  queue_.deliver(ping(local.ip_be, 1));
  run(echo);
  ASSERT_EQ(queue_.sent.size(), 1u);
  const auto& c = echo.counters();
  EXPECT_EQ(c.dropped_by_reason[static_cast<unsigned>(net::FrameError::not_ipv4)].get(), 1u);
  EXPECT_EQ(c.dropped_by_reason[static_cast<unsigned>(net::FrameError::not_udp)].get(), 1u);
  EXPECT_EQ(c.arp_replies.get() + c.icmp_replies.get() + c.udp_replies.get(), 0u);
  expect_balanced(c);
}

TEST_F(EchoResponderTest, AFullTransmitRingIsCountedNotLost) {
  EchoResponder echo(queue_, *pool_, local);
  for (std::uint16_t i = 0; i < 100; ++i) queue_.deliver(i % 2 == 0 ? ping(local.ip_be, i) : udp(local.ip_be));
  queue_.tx_room = 30;  // a ring with room for 30 more
  run(echo);
  const auto& c = echo.counters();
  EXPECT_EQ(c.received.get(), 100u);
  EXPECT_EQ(c.sent.get(), 30u);
  EXPECT_EQ(c.dropped_tx_full.get(), 70u);
  EXPECT_EQ(c.icmp_replies.get() + c.udp_replies.get(), 100u);
  expect_balanced(c);
  EXPECT_EQ(pool_->available(), 256u) << "every buffer back in the pool";
}

}  // namespace
}  // namespace aether::test
