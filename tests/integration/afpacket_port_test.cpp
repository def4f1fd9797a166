// The afpacket port over a real veth pair between two test-made namespaces,
// with both rx ring versions: frames of every size byte for byte, VLAN tags,
// counters, a pool running dry, errors, and the V2/V3 ping-pong that chose
// the default version (printed, never asserted).
// Needs root; skipped otherwise.
#include <arpa/inet.h>

#include <cstring>
#include <string>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/net/frame.hpp"
#include "kernel_port_test_support.hpp"

namespace aether::test {
namespace {

using kernel_ports::free_one;
using kernel_ports::receive_one;

// IEEE 802 "Local Experimental Ethertype 1": the receiving kernel ignores
// it, so the ports see exactly the test's frames.
constexpr std::uint16_t kExperimentalEtherType = 0x88b5;

class AfPacketPortTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!running_as_root()) GTEST_SKIP() << "needs root: makes network namespaces and a veth pair";
  }

  // Opens afpacket:IFNAME with the test's parameters on both ends.
  void open(const std::string& parameters) {
    auto opened = kernel_ports::reopen_port_pair(
        pair_, [&](const net::VethEnd& end) { return fmt::format("afpacket:{}{}", end.name, parameters); });
    ASSERT_TRUE(opened) << opened.error().describe();
  }

  net::Queue& queue_a() { return pair_.a.port->queue(0); }
  net::Queue& queue_b() { return pair_.b.port->queue(0); }

  // An Ethernet frame of `size` bytes from A to B with payload `sequence`.
  mem::Packet* frame(std::size_t size, std::uint32_t sequence) {
    mem::Packet* packet = nullptr;
    EXPECT_EQ(pair_.a.pool->alloc_bulk({&packet, 1}), 1u);
    auto* ethernet = reinterpret_cast<net::EthernetHeader*>(packet->data());
    ethernet->destination = pair_.veth->end_b().mac;
    ethernet->source = pair_.veth->end_a().mac;
    ethernet->ether_type_be = htons(kExperimentalEtherType);
    fill_payload(packet->data() + sizeof(net::EthernetHeader), size - sizeof(net::EthernetHeader), sequence);
    EXPECT_TRUE(packet->set_length(static_cast<std::uint16_t>(size)));
    return packet;
  }

  PortPair pair_;
};

TEST_P(AfPacketPortTest, CarriesEveryFrameSizeByteForByte) {
  ASSERT_NO_FATAL_FAILURE(open(GetParam()));
  const auto& sizes = kernel_ports::frame_sizes();
  std::vector<mem::Packet*> frames;
  std::vector<std::vector<std::byte>> sent;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    frames.push_back(frame(sizes[i], static_cast<std::uint32_t>(i)));
    sent.emplace_back(frames.back()->data(), frames.back()->data() + sizes[i]);
    bytes += sizes[i];
  }
  ASSERT_EQ(send_all(queue_a(), *pair_.a.pool, frames), sizes.size());

  std::size_t next = 0;
  const std::size_t received = receive(queue_b(), *pair_.b.pool, sizes.size(), [&](mem::Packet& packet) {
    const std::size_t i = next++;
    SCOPED_TRACE(fmt::format("frame {} of {} bytes", i, sizes[i]));
    ASSERT_EQ(packet.length(), sizes[i]);
    EXPECT_EQ(std::memcmp(packet.data(), sent[i].data(), sizes[i]), 0);
    EXPECT_EQ(packet.port, 1);  // port_id given by open_port_pair
    EXPECT_NE(packet.timestamp, 0u);
  });
  EXPECT_EQ(received, sizes.size());

  const net::QueueStats a = pair_.a.port->stats();
  EXPECT_EQ(a.tx_packets, sizes.size());
  EXPECT_EQ(a.tx_bytes, bytes);
  EXPECT_EQ(a.tx_drops(), 0u);
  const net::QueueStats b = pair_.b.port->stats();
  EXPECT_EQ(b.rx_packets, sizes.size());
  EXPECT_EQ(b.rx_bytes, bytes);
  EXPECT_EQ(b.rx_drops(), 0u);
  // A port does not receive what it sent (PACKET_IGNORE_OUTGOING).
  std::array<mem::Packet*, 8> burst{};
  EXPECT_EQ(queue_a().rx_burst(burst), 0u);
  EXPECT_EQ(pair_.a.port->stats().rx_packets, 0u);
}

TEST_P(AfPacketPortTest, PutsBackTheVlanTagTheKernelTookOut) {
  ASSERT_NO_FATAL_FAILURE(open(GetParam()));
  // 802.1Q: TPID 0x8100, TCI = priority 5, VLAN 291; a full-size tagged frame.
  mem::Packet* tagged = frame(1518, 42);
  std::byte* bytes = tagged->data();
  const std::uint16_t tpid = htons(net::ether_type_vlan);
  const std::uint16_t tci = htons((5u << 13) | 291u);
  const std::uint16_t inner = htons(kExperimentalEtherType);
  std::memcpy(bytes + 12, &tpid, 2);
  std::memcpy(bytes + 14, &tci, 2);
  std::memcpy(bytes + 16, &inner, 2);
  const std::vector<std::byte> sent(bytes, bytes + tagged->length());
  ASSERT_EQ(send_all(queue_a(), *pair_.a.pool, {tagged}), 1u);

  mem::Packet* received = receive_one(queue_b());
  ASSERT_NE(received, nullptr);
  ASSERT_EQ(received->length(), sent.size());
  EXPECT_EQ(std::memcmp(received->data(), sent.data(), sent.size()), 0);
  free_one(received);
}

TEST_P(AfPacketPortTest, CountsFramesItCannotSendAsBad) {
  ASSERT_NO_FATAL_FAILURE(open(GetParam()));
  mem::Packet* too_long = frame(1515, 1);  // mtu 1500 + 14 + 1, untagged
  mem::Packet* runt = frame(60, 2);
  (void)runt->set_length(10);  // shorter than an Ethernet header
  mem::Packet* fine = frame(1514, 3);
  kernel_ports::expect_bad_frames_taken(*pair_.a.port, queue_b(), {too_long, runt, fine}, 2, 1514);
}

TEST_P(AfPacketPortTest, AnEmptyPoolDropsFramesWithoutStallingTheRing) {
  ASSERT_NO_FATAL_FAILURE(open(GetParam()));
  // Take every buffer of B's pool.
  std::vector<mem::Packet*> hoard(pair_.b.pool->capacity());
  hoard.resize(pair_.b.pool->alloc_bulk(hoard));
  ASSERT_EQ(hoard.size(), pair_.b.pool->capacity());

  std::vector<mem::Packet*> first;
  for (std::uint32_t i = 0; i < 5; ++i) first.push_back(frame(100, i));
  ASSERT_EQ(send_all(queue_a(), *pair_.a.pool, first), 5u);
  std::array<mem::Packet*, 32> burst{};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (pair_.b.port->stats().rx_drop_no_buffer < 5 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(queue_b().rx_burst(burst), 0u);
  }
  EXPECT_EQ(pair_.b.port->stats().rx_drop_no_buffer, 5u);

  pair_.b.pool->free_bulk(hoard);
  std::vector<mem::Packet*> second;
  for (std::uint32_t i = 0; i < 5; ++i) second.push_back(frame(100, 10 + i));
  ASSERT_EQ(send_all(queue_a(), *pair_.a.pool, second), 5u);
  EXPECT_EQ(receive(queue_b(), *pair_.b.pool, 5, [](mem::Packet&) {}), 5u);
  EXPECT_EQ(pair_.b.port->stats().rx_packets, 5u);
}

INSTANTIATE_TEST_SUITE_P(RingVersions, AfPacketPortTest, ::testing::Values("", "?version=3"),
                         [](const auto& test_info) {
                           return test_info.param.empty() ? std::string("V2") : std::string("V3");
                         });

class AfPacketPortOpenTest : public AfPacketPortTest {};

TEST_F(AfPacketPortOpenTest, DescribesItselfAndExplainsTheDefaultVersion) {
  ASSERT_NO_FATAL_FAILURE(open(""));
  const net::PortInfo& info = pair_.a.port->info();
  EXPECT_EQ(info.kind, "afpacket");
  EXPECT_EQ(info.interface, pair_.veth->end_a().name);
  EXPECT_EQ(info.mode,
            "TPACKET_V2 rx ring (2048 frames x 2048 B), TPACKET_V2 tx ring (2048 frames x 2048 B), "
            "qdisc bypass");
  EXPECT_EQ(info.mac, pair_.veth->end_a().mac);
  EXPECT_EQ(info.mtu, 1500u);
  EXPECT_EQ(pair_.a.port->link_state(), net::LinkState::up);
  ASSERT_EQ(info.notes.size(), 1u);
  EXPECT_NE(info.notes[0].find("TPACKET_V2 chosen by default"), std::string::npos) << info.notes[0];
}

TEST_F(AfPacketPortOpenTest, ReportsVersion3AndQdiscPathWhenAskedFor) {
  ASSERT_NO_FATAL_FAILURE(open("?version=3&block_size=65536&block_timeout_ms=2&qdisc_bypass=0"));
  EXPECT_EQ(pair_.a.port->info().mode,
            "TPACKET_V3 rx ring (64 blocks x 65536 B, retire 2 ms), TPACKET_V2 tx ring "
            "(2048 frames x 2048 B), through the qdisc");
  EXPECT_TRUE(pair_.a.port->info().notes.empty());
}

TEST_F(AfPacketPortOpenTest, AMissingInterfaceIsNamed) {
  ASSERT_NO_FATAL_FAILURE(open(""));
  auto missing = open_in_namespace(pair_.veth->namespace_a(), "afpacket:nosuch0", 5);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no interface 'nosuch0'"), std::string::npos) << missing.error().message;
}

// Runs with or without privileges.
TEST(AfPacketOpen, SaysWhyItCannotOpen) {
  // Without CAP_NET_RAW the socket is refused; with it, the interface is
  // missing. Either way the error says which.
  auto pool = mem::Mempool::create(net::default_packet_pool_config(64, "afpacket-open"));
  ASSERT_TRUE(pool) << pool.error().describe();
  auto port = net::open_port("afpacket:nosuch0", net::PortOptions{pool->get(), 0});
  ASSERT_FALSE(port);
  EXPECT_THAT(port.error().message, ::testing::AnyOf(::testing::HasSubstr("needs CAP_NET_RAW"),
                                                     ::testing::HasSubstr("no interface 'nosuch0'")));
  EXPECT_THAT(port.error().message, ::testing::HasSubstr("port 'afpacket:nosuch0'"));
}

// The measurement behind the default version: the same one-thread ping-pong
// over the same veth pair with each rx ring version.
TEST_F(AfPacketPortOpenTest, PingPongOfBothRingVersions) {
  struct Variant {
    const char* parameters;
    unsigned rounds;
    const char* label;
  };
  for (const Variant variant :
       {Variant{"", 2000, "afpacket TPACKET_V2"}, Variant{"?version=3", 200, "afpacket TPACKET_V3, block_timeout_ms=1"},
        Variant{"?version=3&block_timeout_ms=0", 50, "afpacket TPACKET_V3, kernel timeout"}}) {
    ASSERT_NO_FATAL_FAILURE(open(variant.parameters));
    auto trips = kernel_ports::ping_pong(
        queue_a(), *pair_.a.pool, queue_b(), variant.rounds,
        [&](mem::Packet& packet) {
          mem::Packet* made = frame(64, 0);
          std::memcpy(packet.data(), made->data(), 64);
          (void)packet.set_length(64);
          free_one(made);
        },
        [](mem::Packet& packet) {
          auto* ethernet = reinterpret_cast<net::EthernetHeader*>(packet.data());
          std::swap(ethernet->destination, ethernet->source);
        });
    // A round whose frame does not come back within 500 ms counts as lost.
    // Seen once in CI (2 of 2000 V2 rounds, machine loaded): allowed up to
    // 1% here while it is investigated; the conformance suite still demands
    // every frame.
    EXPECT_LE(trips.lost, variant.rounds / 100) << variant.label;
    trips.print(fmt::format("{} ping-pong over veth, 64-byte frames", variant.label).c_str());
  }
}

}  // namespace
}  // namespace aether::test
