// The conformance suite every backend passes: the same frames, the same
// accounting, the same cleanup.
//
// Which backends run: every one this build has, except vfio.
//  - udp, afpacket, afxdp: over a real veth pair in throwaway namespaces
//    (needs root; skipped without).
//  - memif: a server port and a client port in this process, connected
//    through an abstract unix socket (no privileges needed).
//  - vfio cannot run on this host: it needs a device behind an IOMMU, and
//    there is none here. Its drivers (virtio-net, e1000e) are exercised
//    against real emulated devices behind an emulated IOMMU by the guest
//    tests (tests/guest/vfio_guest_test.cpp, vfio_bench_guest_test.cpp).
// As root, a run in which a backend that can run here did not is a failure
// (PortConformanceCoverage), and so is an empty suite.
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "port_test_support.hpp"

namespace aether::test {
namespace {

constexpr std::uint16_t udp_port = 9000;

// Backends this suite runs on this host: all but vfio (see above).
std::vector<std::string> available_kinds() {
  std::vector<std::string> kinds;
  for (const auto& backend : net::describe_backends()) {
    if (backend.available && backend.kind != "vfio") kinds.emplace_back(backend.kind);
  }
  return kinds;
}

// Addresses for the frames between the two memif ports (no kernel involved:
// any unicast MACs and private IPs do).
net::VethEnd memif_end(std::string name, std::uint8_t last, const char* ip) {
  net::VethEnd end;
  end.name = std::move(name);
  end.mac = {0x02, 0x00, 0x00, 0x00, 0x00, last};
  end.ip = ip;
  end.ip_be = ::inet_addr(ip);
  return end;
}

class PortConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memif") {
      open_memif_pair();
      return;
    }
    if (!running_as_root()) GTEST_SKIP() << "needs root: makes network namespaces and veth pairs";
    auto pair = open_port_pair(
        [this](const net::VethEnd& end) { return measure::spec_for_veth_end(GetParam(), end, udp_port); },
        GetParam() == "udp");
    ASSERT_TRUE(pair.ok()) << pair.error().describe();
    pair_ = std::move(*pair);
    end_a_ = pair_.veth->end_a();
    end_b_ = pair_.veth->end_b();
  }

  // memif: a server (a) and a client (b) in this process on an abstract
  // socket named after the process and test.
  void open_memif_pair() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    end_a_ = memif_end("server", 0xa, "10.77.0.1");
    end_b_ = memif_end("client", 0xb, "10.77.0.2");
    auto pair = test::open_memif_pair(fmt::format("aether-conformance-{}-{}", ::getpid(), test->name()));
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
  net::VethEnd end_a_;  // the addresses frames from a carry
  net::VethEnd end_b_;
};

TEST_P(PortConformance, ReportsWhatItOpened) {
  const auto& info = pair_.a.port->info();
  EXPECT_EQ(info.kind, GetParam());
  EXPECT_FALSE(info.mode.empty()) << "a port must report its negotiated mode";
  EXPECT_GE(info.queue_count, 1u);
  EXPECT_NE(pair_.a.port->link_state(), net::LinkState::down);
}

TEST_P(PortConformance, DeliversFramesOfEverySizeBothWays) {
  exchange(pair_.a, end_a_, pair_.b, end_b_, 500);
  exchange(pair_.b, end_b_, pair_.a, end_a_, 500);
}

TEST_P(PortConformance, EmptyBurstsAreHarmless) {
  std::span<mem::Packet*> none;
  EXPECT_EQ(pair_.a.port->queue(0).rx_burst(none), 0u);
  EXPECT_EQ(pair_.a.port->queue(0).tx_burst(none), 0u);
  std::array<mem::Packet*, 8> burst{};
  EXPECT_EQ(pair_.a.port->queue(0).rx_burst(burst), 0u);  // nothing was sent
}

TEST_P(PortConformance, ReturnsEveryBufferToItsPool) {
  exchange(pair_.a, end_a_, pair_.b, end_b_, 100);
  // Closing the ports gives back what their rings and caches held.
  pair_.a.port.reset();
  pair_.b.port.reset();
  EXPECT_EQ(pair_.a.pool->available(), pair_.a.pool->capacity());
  EXPECT_EQ(pair_.b.pool->available(), pair_.b.pool->capacity());
}

TEST_P(PortConformance, RefusesAMissingInterfaceByName) {
  auto pool = mem::Mempool::create(net::default_packet_pool_config(512, "missing"));
  ASSERT_TRUE(pool.ok());
  // memif's "interface" is its socket: a server cannot listen below a path
  // that is not a directory and cannot be made one (it makes a missing
  // socket directory itself, 0700). A client waits for its server instead.
  const std::string missing_socket = "/dev/null/aether-memif.sock";
  const std::string spec = GetParam() == "udp"     ? "udp:10.254.254.254:9000"
                           : GetParam() == "memif" ? "memif:" + missing_socket + "?role=server"
                                                   : GetParam() + ":no-such-if0";
  auto port = net::open_port(spec, net::PortOptions{pool->get(), 0});
  ASSERT_FALSE(port.ok());
  const std::string target = GetParam() == "udp"     ? "10.254.254.254"
                             : GetParam() == "memif" ? missing_socket
                                                     : "no-such-if0";
  EXPECT_NE(port.error().message.find(target), std::string::npos) << port.error().describe();
}

// No GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST: a build with no backend
// to run makes the suite fail rather than pass empty.
INSTANTIATE_TEST_SUITE_P(Backends, PortConformance, ::testing::ValuesIn(available_kinds()),
                         [](const auto& test) { return test.param; });

// As root every backend this build has (vfio aside, see the top) must run:
// the veth ones, memif, and each of them is in the suite.
TEST(PortConformanceCoverage, EveryBackendThatCanRunHereIsInTheSuite) {
  const auto kinds = available_kinds();
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "memif"), kinds.end()) << "memif runs without privileges";
  if (!running_as_root()) GTEST_SKIP() << "the veth backends need root";
  for (const char* kind : {"udp", "afpacket", "afxdp"}) {
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), kind), kinds.end())
        << kind << " is not in this build, so the conformance suite did not run it";
  }
}

}  // namespace
}  // namespace aether::test
