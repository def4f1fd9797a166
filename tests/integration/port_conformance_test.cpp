// The conformance suite every backend passes: the same frames, the same
// accounting, over a real veth pair in throwaway namespaces (needs root).
#include <arpa/inet.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "port_test_support.hpp"

namespace aether::test {
namespace {

constexpr std::uint16_t udp_port = 9000;

std::string spec_for(const std::string& kind, const net::VethEnd& end) {
  if (kind == "udp") return "udp:" + end.ip + ":" + std::to_string(udp_port);
  return kind + ":" + end.name;
}

std::vector<std::string> available_kinds() {
  std::vector<std::string> kinds;
  for (const auto& backend : net::describe_backends()) {
    if (backend.available && backend.kind != "memif" && backend.kind != "vfio") kinds.emplace_back(backend.kind);
  }
  return kinds;
}

class PortConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!running_as_root()) GTEST_SKIP() << "needs root: makes network namespaces and veth pairs";
    auto pair = open_port_pair([this](const net::VethEnd& end) { return spec_for(GetParam(), end); }, GetParam() == "udp");
    ASSERT_TRUE(pair.ok()) << pair.error().describe();
    pair_ = std::move(*pair);
  }

  // Sends `count` frames of varied sizes from `from` to `to` and checks that
  // every one arrives intact and is counted once on each side.
  void exchange(OpenedPort& from, const net::VethEnd& from_end, OpenedPort& to, const net::VethEnd& to_end,
                std::size_t count) {
    const auto before_from = from.port->stats();
    const auto before_to = to.port->stats();
    // UDP payload sizes from 18 (a 60-byte minimum frame) to 1472 (a 1514-byte frame).
    auto payload_size = [](std::size_t i) -> std::size_t { return 18 + (i * 97) % (1472 - 18 + 1); };
    std::vector<mem::Packet*> packets;
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < count; ++i) {
      mem::Packet* packet = make_udp_packet(*from.pool, endpoint_of(from_end, udp_port), endpoint_of(to_end, udp_port),
                                            payload_size(i), static_cast<std::uint32_t>(i));
      ASSERT_NE(packet, nullptr);
      bytes += packet->length();
      packets.push_back(packet);
    }
    // Send in slices so that the receiver's socket or ring never overflows.
    std::vector<bool> seen(count, false);
    std::size_t received = 0;
    std::size_t corrupt = 0;
    auto check = [&](mem::Packet& packet) {
      net::FrameError error{};
      auto view = net::parse_udp_frame(std::span(packet.data(), packet.length()), error);
      std::uint32_t sequence = 0;
      if (!view || !payload_matches(view->payload, sequence) || sequence >= count ||
          view->payload.size() != payload_size(sequence) || seen[sequence]) {
        ++corrupt;
        std::string head;
        for (std::size_t i = 0; i < std::min<std::size_t>(packet.length(), 48); ++i) {
          head += fmt::format("{:02x}", static_cast<unsigned>(packet.data()[i]));
        }
        ADD_FAILURE() << "unexpected frame of " << packet.length() << " bytes (" << net::to_string(error)
                      << "): " << head;
        return;
      }
      seen[sequence] = true;
    };
    constexpr std::size_t slice = 64;
    for (std::size_t offset = 0; offset < count; offset += slice) {
      std::vector<mem::Packet*> part(packets.begin() + static_cast<std::ptrdiff_t>(offset),
                                     packets.begin() + static_cast<std::ptrdiff_t>(std::min(count, offset + slice)));
      const std::size_t expected = part.size();
      ASSERT_EQ(send_all(from.port->queue(0), *from.pool, std::move(part)), expected);
      received += receive(to.port->queue(0), *to.pool, expected, check, &from.port->queue(0));
    }
    EXPECT_EQ(received, count);
    EXPECT_EQ(corrupt, 0u);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), true), static_cast<std::ptrdiff_t>(count));

    const auto after_from = from.port->stats();
    const auto after_to = to.port->stats();
    EXPECT_EQ(after_from.tx_packets - before_from.tx_packets, count);
    EXPECT_EQ(after_from.tx_drops(), before_from.tx_drops());
    EXPECT_EQ(after_to.rx_packets - before_to.rx_packets, count);
    EXPECT_EQ(after_to.rx_drops(), before_to.rx_drops());
    EXPECT_EQ(after_from.tx_bytes - before_from.tx_bytes, bytes);
    EXPECT_EQ(after_to.rx_bytes - before_to.rx_bytes, bytes);
  }

  PortPair pair_;
};

TEST_P(PortConformance, ReportsWhatItOpened) {
  const auto& info = pair_.a.port->info();
  EXPECT_EQ(info.kind, GetParam());
  EXPECT_FALSE(info.mode.empty()) << "a port must report its negotiated mode";
  EXPECT_GE(info.queue_count, 1u);
  EXPECT_NE(pair_.a.port->link_state(), net::LinkState::down);
}

TEST_P(PortConformance, DeliversFramesOfEverySizeBothWays) {
  exchange(pair_.a, pair_.veth->end_a(), pair_.b, pair_.veth->end_b(), 500);
  exchange(pair_.b, pair_.veth->end_b(), pair_.a, pair_.veth->end_a(), 500);
}

TEST_P(PortConformance, EmptyBurstsAreHarmless) {
  std::span<mem::Packet*> none;
  EXPECT_EQ(pair_.a.port->queue(0).rx_burst(none), 0u);
  EXPECT_EQ(pair_.a.port->queue(0).tx_burst(none), 0u);
  std::array<mem::Packet*, 8> burst{};
  EXPECT_EQ(pair_.a.port->queue(0).rx_burst(burst), 0u);  // nothing was sent
}

TEST_P(PortConformance, ReturnsEveryBufferToItsPool) {
  exchange(pair_.a, pair_.veth->end_a(), pair_.b, pair_.veth->end_b(), 100);
  // Closing the ports gives back what their rings and caches held.
  pair_.a.port.reset();
  pair_.b.port.reset();
  EXPECT_EQ(pair_.a.pool->available(), pair_.a.pool->capacity());
  EXPECT_EQ(pair_.b.pool->available(), pair_.b.pool->capacity());
}

TEST_P(PortConformance, RefusesAMissingInterfaceByName) {
  auto pool = mem::Mempool::create(net::default_packet_pool_config(512, "missing"));
  ASSERT_TRUE(pool.ok());
  const std::string spec = GetParam() == "udp" ? "udp:10.254.254.254:9000" : GetParam() + ":no-such-if0";
  auto port = net::open_port(spec, net::PortOptions{pool->get(), 0});
  ASSERT_FALSE(port.ok());
  const std::string target = GetParam() == "udp" ? "10.254.254.254" : "no-such-if0";
  EXPECT_NE(port.error().message.find(target), std::string::npos) << port.error().describe();
}

INSTANTIATE_TEST_SUITE_P(Backends, PortConformance, ::testing::ValuesIn(available_kinds()),
                         [](const auto& test) { return test.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PortConformance);

}  // namespace
}  // namespace aether::test
