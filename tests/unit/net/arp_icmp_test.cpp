// ARP (RFC 826) and ICMP echo (RFC 792) frames: built, parsed, answered in
// place, with the checksums checked against a full recomputation and
// against a reference frame as Linux sends it.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "aether/net/arp.hpp"
#include "aether/net/icmp.hpp"

namespace aether::net {
namespace {

const MacAddress mac_a = *parse_mac("02:00:00:00:00:0a");
const MacAddress mac_b = *parse_mac("02:00:00:00:00:0b");
const std::uint32_t ip_a = *parse_ipv4_be("10.0.3.2");
const std::uint32_t ip_b = *parse_ipv4_be("10.0.3.1");

std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
  std::vector<std::byte> bytes;
  for (int value : values) bytes.push_back(std::byte(value));
  return bytes;
}

TEST(Arp, RequestHasTheRfc826LayoutPaddedTo60Bytes) {
  std::vector<std::byte> frame(min_ethernet_frame, std::byte{0x55});
  ASSERT_EQ(write_arp_request(frame, mac_a, ip_a, ip_b), min_ethernet_frame);
  // Destination broadcast, source, EtherType 0x0806, then hrd 1, pro
  // 0x0800, hln 6, pln 4, op 1, sha, spa, tha 0, tpa; zero padding.
  const auto expected = bytes_of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x0a, 0x08, 0x06,  //
                                  0, 1, 0x08, 0, 6, 4, 0, 1,                                              //
                                  2, 0, 0, 0, 0, 0x0a, 10, 0, 3, 2,                                        //
                                  0, 0, 0, 0, 0, 0, 10, 0, 3, 1});
  ASSERT_EQ(std::memcmp(frame.data(), expected.data(), expected.size()), 0);
  for (std::size_t i = expected.size(); i < frame.size(); ++i) EXPECT_EQ(frame[i], std::byte{0}) << i;
  std::vector<std::byte> too_small(59);
  EXPECT_EQ(write_arp_request(too_small, mac_a, ip_a, ip_b), 0u);
}

TEST(Arp, RequestTurnsIntoTheReplyInPlace) {
  std::vector<std::byte> frame(min_ethernet_frame);
  ASSERT_NE(write_arp_request(frame, mac_b, ip_b, ip_a), 0u);
  auto view = parse_arp_frame(frame);
  ASSERT_TRUE(view);
  turn_into_arp_reply(*view, mac_a);
  const auto reply = parse_arp_frame(frame);
  ASSERT_TRUE(reply);
  EXPECT_EQ(ntohs(reply->arp->operation_be), arp_operation_reply);
  EXPECT_EQ(reply->ethernet->destination, mac_b);
  EXPECT_EQ(reply->ethernet->source, mac_a);
  EXPECT_EQ(reply->arp->sender_mac, mac_a);
  EXPECT_EQ(reply->arp->sender_ip_be, ip_a);
  EXPECT_EQ(reply->arp->target_mac, mac_b);
  EXPECT_EQ(reply->arp->target_ip_be, ip_b);
}

TEST(Arp, RefusesWhatIsNotEthernetIpv4Arp) {
  std::vector<std::byte> frame(min_ethernet_frame);
  ASSERT_NE(write_arp_request(frame, mac_a, ip_a, ip_b), 0u);
  EXPECT_TRUE(parse_arp_frame(std::span(frame).first(arp_frame_size)));  // 42 bytes, unpadded: fine
  EXPECT_FALSE(parse_arp_frame(std::span(frame).first(arp_frame_size - 1)));
  for (const std::size_t offset : {12u, 14u, 16u, 18u, 19u, 21u}) {  // EtherType, hrd, pro, hln, pln, op
    auto bad = frame;
    bad[offset] = std::byte(std::to_integer<int>(bad[offset]) ^ 0x40);
    EXPECT_FALSE(parse_arp_frame(bad)) << "byte " << offset;
  }
}

std::vector<std::byte> echo_request(std::size_t data_size, std::uint16_t identifier, std::uint16_t sequence) {
  std::vector<std::byte> frame(std::max(icmp_echo_frame_header_size + data_size, min_ethernet_frame));
  for (std::size_t i = 0; i < data_size; ++i) frame[icmp_echo_frame_header_size + i] = std::byte(i * 7);
  EXPECT_EQ(write_icmp_echo_request(frame, mac_b, ip_b, mac_a, ip_a, identifier, sequence, data_size), frame.size());
  return frame;
}

std::optional<IcmpEchoView> parse_echo(std::vector<std::byte>& frame, IcmpError& icmp_error) {
  FrameError frame_error{};
  const auto ipv4 = parse_ipv4_frame(frame, frame_error);
  EXPECT_TRUE(ipv4) << to_string(frame_error);
  if (!ipv4) return std::nullopt;
  EXPECT_EQ(ipv4->ip->protocol, ip_protocol_icmp);
  return parse_icmp_echo(*ipv4, icmp_error);
}

TEST(Icmp, RequestMatchesWhatLinuxSends) {
  // The ICMP part of `ping -c1 -s 4` as Linux sends it: type 8, code 0,
  // checksum, identifier 0x1234, sequence 1, data 00 07 0e 15. The
  // checksum is the RFC 1071 sum of those words, computed by hand:
  // ~(0x0800 + 0x1234 + 0x0001 + 0x0007 + 0x0e15) = ~0x2851 = 0xd7ae.
  auto frame = echo_request(4, 0x1234, 1);
  const auto expected = bytes_of({8, 0, 0xd7, 0xae, 0x12, 0x34, 0, 1, 0, 7, 14, 21});
  EXPECT_EQ(std::memcmp(frame.data() + sizeof(EthernetHeader) + sizeof(Ipv4Header), expected.data(), expected.size()),
            0);
  IcmpError error{};
  const auto view = parse_echo(frame, error);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->icmp->type, icmp_type_echo_request);
  EXPECT_EQ(view->message.size(), 12u);  // the Ethernet padding is not ICMP data
}

TEST(Icmp, ReplyChecksumEqualsAFullRecomputation) {
  for (const std::size_t data_size : {0u, 1u, 4u, 56u, 1471u}) {
    for (const std::uint16_t sequence : {0, 1, 0xf7ff, 0xffff}) {
      auto frame = echo_request(data_size, 0xfffe, sequence);
      IcmpError error{};
      auto request = parse_echo(frame, error);
      ASSERT_TRUE(request);
      turn_into_echo_reply(*request);
      auto reply = parse_echo(frame, error);
      ASSERT_TRUE(reply) << "data " << data_size << " sequence " << sequence << " error " << int(error);
      EXPECT_EQ(reply->icmp->type, icmp_type_echo_reply);
      EXPECT_EQ(ntohs(reply->icmp->sequence_be), sequence);
      EXPECT_EQ(ntohs(reply->icmp->identifier_be), 0xfffe);
      EXPECT_EQ(reply->ip->source_be, ip_a);
      EXPECT_EQ(reply->ip->destination_be, ip_b);
      EXPECT_EQ(reply->ethernet->destination, mac_b);
      const std::uint16_t incremental = reply->icmp->checksum_be;
      reply->icmp->checksum_be = 0;
      EXPECT_EQ(incremental, internet_checksum_be(reply->message)) << "data " << data_size << " sequence " << sequence;
    }
  }
}

TEST(Icmp, RefusesBadChecksumsShortMessagesAndOtherTypes) {
  auto frame = echo_request(8, 1, 1);
  frame[icmp_echo_frame_header_size + 3] ^= std::byte{1};
  IcmpError error{};
  EXPECT_FALSE(parse_echo(frame, error));
  EXPECT_EQ(error, IcmpError::bad_checksum);

  // Destination unreachable (type 3) with a valid checksum.
  frame = echo_request(8, 1, 1);
  auto* icmp = reinterpret_cast<IcmpEchoHeader*>(frame.data() + sizeof(EthernetHeader) + sizeof(Ipv4Header));
  icmp->type = 3;
  icmp->checksum_be = 0;
  icmp->checksum_be = internet_checksum_be(std::span(frame).subspan(sizeof(EthernetHeader) + sizeof(Ipv4Header), 16));
  EXPECT_FALSE(parse_echo(frame, error));
  EXPECT_EQ(error, IcmpError::not_echo);

  // An IP packet whose ICMP message is shorter than the echo header.
  frame = echo_request(0, 1, 1);
  auto* ip = reinterpret_cast<Ipv4Header*>(frame.data() + sizeof(EthernetHeader));
  write_ipv4_header(*ip, ip_b, ip_a, ip_protocol_icmp, 7);
  EXPECT_FALSE(parse_echo(frame, error));
  EXPECT_EQ(error, IcmpError::too_short);
}

}  // namespace
}  // namespace aether::net
