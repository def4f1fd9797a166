#include "aether/net/frame.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace aether::net {
namespace {

UdpEndpoint endpoint(const char* mac, const char* ip, std::uint16_t port) {
  return UdpEndpoint{*parse_mac(mac), *parse_ipv4_be(ip), htons(port)};
}

std::vector<std::byte> make_frame(std::size_t payload_size) {
  std::vector<std::byte> frame(std::max<std::size_t>(udp_frame_header_size + payload_size, min_ethernet_frame));
  const std::size_t length = write_udp_headers(frame, endpoint("02:00:00:00:00:01", "10.0.0.1", 1000),
                                               endpoint("02:00:00:00:00:02", "10.0.0.2", 2000), payload_size);
  EXPECT_EQ(length, frame.size());
  for (std::size_t i = 0; i < payload_size; ++i) frame[udp_frame_header_size + i] = std::byte(i & 0xff);
  return frame;
}

TEST(Frame, BuildsAndParsesUdp) {
  auto frame = make_frame(100);
  FrameError error{};
  const auto view = parse_udp_frame(frame, error);
  ASSERT_TRUE(view) << to_string(error);
  EXPECT_EQ(view->payload.size(), 100u);
  EXPECT_EQ(ntohs(view->udp->destination_port_be), 2000);
  EXPECT_EQ(format_ipv4_be(view->ip->source_be), "10.0.0.1");
  EXPECT_EQ(view->payload[99], std::byte(99));
}

TEST(Frame, ShortPayloadIsPaddedToMinimumFrame) {
  auto frame = make_frame(4);
  EXPECT_EQ(frame.size(), min_ethernet_frame);
  FrameError error{};
  const auto view = parse_udp_frame(frame, error);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->payload.size(), 4u);  // padding is not payload
}

TEST(Frame, EchoSwapsAddressesAndKeepsChecksumValid) {
  auto frame = make_frame(18);
  FrameError error{};
  auto view = parse_udp_frame(frame, error);
  ASSERT_TRUE(view);
  swap_for_echo(*view);
  const auto reply = parse_udp_frame(frame, error);
  ASSERT_TRUE(reply) << to_string(error);
  EXPECT_EQ(format_ipv4_be(reply->ip->source_be), "10.0.0.2");
  EXPECT_EQ(format_mac(reply->ethernet->destination), "02:00:00:00:00:01");
  EXPECT_EQ(ntohs(reply->udp->source_port_be), 2000);
}

TEST(Frame, RefusesEveryTruncation) {
  const auto frame = make_frame(30);
  for (std::size_t length = 0; length < udp_frame_header_size + 30; ++length) {
    std::vector<std::byte> cut(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(length));
    FrameError error{};
    EXPECT_FALSE(parse_udp_frame(cut, error)) << length;
    EXPECT_NE(error, FrameError::none);
  }
}

TEST(Frame, NamesWhyAFrameIsRefused) {
  FrameError error{};
  auto frame = make_frame(10);
  frame[12] = std::byte(0x08);
  frame[13] = std::byte(0x06);  // ARP
  EXPECT_FALSE(parse_udp_frame(frame, error));
  EXPECT_EQ(error, FrameError::not_ipv4);

  frame = make_frame(10);
  frame[14 + 10] ^= std::byte(0xff);  // corrupt the IP checksum
  EXPECT_FALSE(parse_udp_frame(frame, error));
  EXPECT_EQ(error, FrameError::bad_ip_checksum);

  frame = make_frame(10);
  auto* udp = reinterpret_cast<UdpHeader*>(frame.data() + 34);
  udp->length_be = htons(4000);
  EXPECT_FALSE(parse_udp_frame(frame, error));
  EXPECT_EQ(error, FrameError::bad_udp_length);
}

TEST(Frame, ParsesMacAndIpText) {
  EXPECT_FALSE(parse_mac("02:00:00:00:00"));
  EXPECT_FALSE(parse_mac("02-00-00-00-00-01"));
  EXPECT_FALSE(parse_mac("zz:00:00:00:00:01"));
  EXPECT_EQ(format_mac(*parse_mac("0a:1b:2c:3d:4e:5f")), "0a:1b:2c:3d:4e:5f");
  EXPECT_FALSE(parse_ipv4_be("10.0.0.256"));
  EXPECT_FALSE(parse_ipv4_be("a very long string that is not an address at all"));
  EXPECT_EQ(format_ipv4_be(*parse_ipv4_be("192.168.7.9")), "192.168.7.9");
}

TEST(Frame, ChecksumMatchesRfc1071Example) {
  // RFC 1071 section 3 example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2, checksum 0x220d.
  const std::byte bytes[] = {std::byte(0x00), std::byte(0x01), std::byte(0xf2), std::byte(0x03),
                             std::byte(0xf4), std::byte(0xf5), std::byte(0xf6), std::byte(0xf7)};
  EXPECT_EQ(ntohs(internet_checksum_be(bytes)), 0x220d);
}

}  // namespace
}  // namespace aether::net
