// memif control messages and handshakes: layouts, round trips, and every
// refusal a hostile or broken peer can provoke, with its DISCONNECT reason.
// The headers under test are private to the backend and header-only (see
// src/backends/memif/messages.hpp), hence the relative includes.
#include <cstring>

#include <gtest/gtest.h>

#include "../../../src/backends/memif/handshake.hpp"
#include "../../../src/backends/memif/messages.hpp"

namespace aether::backends::memif {
namespace {

// Builds a raw datagram the way a peer would: type, then body bytes at 2.
template <class Body>
WireMessage raw(MessageType type, const Body& body) {
  WireMessage out{};
  const auto t = static_cast<std::uint16_t>(type);
  std::memcpy(out.data(), &t, 2);
  std::memcpy(out.data() + 2, &body, sizeof(Body));
  return out;
}

template <class T>
T decoded(const WireMessage& bytes) {
  auto message = decode_message(bytes);
  EXPECT_TRUE(message.ok()) << message.error().message;
  return std::get<T>(*message);
}

std::string refusal(const WireMessage& bytes) {
  auto message = decode_message(bytes);
  EXPECT_FALSE(message.ok());
  return message.ok() ? std::string() : message.error().message;
}

TEST(MemifMessages, HelloEncodesAtTheOffsetsOfMemifH) {
  HelloMessage hello;
  hello.name = "DPDK 22.11.11";
  hello.max_region = 255;
  hello.max_c2s_ring = 7;
  hello.max_s2c_ring = 3;
  hello.max_log2_ring_size = 14;
  const WireMessage bytes = encode_message(hello);
  std::uint16_t field = 0;
  std::memcpy(&field, bytes.data(), 2);
  EXPECT_EQ(field, 2);
  EXPECT_EQ(std::memcmp(bytes.data() + 2, "DPDK 22.11.11", 13), 0);
  std::memcpy(&field, bytes.data() + 2 + 32, 2);
  EXPECT_EQ(field, kVersion);
  std::memcpy(&field, bytes.data() + 2 + 38, 2);
  EXPECT_EQ(field, 3) << "max_s2c_ring (libmemif: max_m2s_ring) comes first";
  std::memcpy(&field, bytes.data() + 2 + 40, 2);
  EXPECT_EQ(field, 7);
  EXPECT_EQ(std::to_integer<int>(bytes[2 + 42]), 14);

  const auto back = decoded<HelloMessage>(bytes);
  EXPECT_EQ(back.name, "DPDK 22.11.11");
  EXPECT_EQ(back.max_region, 255);
  EXPECT_EQ(back.max_c2s_ring, 7);
  EXPECT_EQ(back.max_s2c_ring, 3);
}

TEST(MemifMessages, EveryTypeRoundTrips) {
  InitMessage init;
  init.id = 0xdeadbeef;
  init.secret = secret_field("s3cret");
  init.name = "peer";
  const auto init_back = decoded<InitMessage>(encode_message(init));
  EXPECT_EQ(init_back.id, 0xdeadbeefu);
  EXPECT_EQ(init_back.secret, init.secret);
  EXPECT_EQ(init_back.name, "peer");

  const auto region = decoded<AddRegionMessage>(encode_message(AddRegionMessage{3, 1ull << 33}));
  EXPECT_EQ(region.index, 3);
  EXPECT_EQ(region.size, 1ull << 33);

  const auto ring =
      decoded<AddRingMessage>(encode_message(AddRingMessage{RingType::server_to_client, 5, 1, 0x12340, 12}));
  EXPECT_EQ(ring.type, RingType::server_to_client);
  EXPECT_EQ(ring.index, 5);
  EXPECT_EQ(ring.region, 1);
  EXPECT_EQ(ring.offset, 0x12340u);
  EXPECT_EQ(ring.log2_ring_size, 12);
  EXPECT_EQ(decoded<AddRingMessage>(encode_message(AddRingMessage{RingType::client_to_server, 0, 0, 0, 10})).type,
            RingType::client_to_server);

  EXPECT_EQ(decoded<ConnectMessage>(encode_message(ConnectMessage{"if0"})).interface_name, "if0");
  EXPECT_EQ(decoded<ConnectedMessage>(encode_message(ConnectedMessage{"if1"})).interface_name, "if1");
  const auto disconnect = decoded<DisconnectMessage>(encode_message(DisconnectMessage{7, "bye"}));
  EXPECT_EQ(disconnect.code, 7u);
  EXPECT_EQ(disconnect.reason, "bye");
  EXPECT_TRUE(std::holds_alternative<AckMessage>(*decode_message(encode_message(AckMessage{}))));
}

TEST(MemifMessages, RefusesMalformedDatagrams) {
  const WireMessage ack = encode_message(AckMessage{});
  EXPECT_NE(refusal(WireMessage{}).find("Unknown message type 0"), std::string::npos);
  auto short_message = decode_message(std::span<const std::byte>(ack.data(), 127));
  ASSERT_FALSE(short_message.ok());
  EXPECT_NE(short_message.error().message.find("Invalid message size 127"), std::string::npos);

  WireMessage unknown = ack;
  unknown[0] = std::byte{9};
  EXPECT_NE(refusal(unknown).find("Unknown message type 9"), std::string::npos);

  InitBody init{};
  init.version = kVersion;
  init.mode = 1;  // IP mode
  EXPECT_NE(refusal(raw(MessageType::init, init)).find("Only ethernet mode"), std::string::npos);

  AddRingBody ring{};
  ring.private_hdr_size = 64;
  EXPECT_NE(refusal(raw(MessageType::add_ring, ring)).find("private header"), std::string::npos);
  ring.private_hdr_size = 0;
  ring.flags = 0x8001;
  EXPECT_NE(refusal(raw(MessageType::add_ring, ring)).find("Unknown ADD_RING flags"), std::string::npos);
}

TEST(MemifMessages, NamesAreCutAtNulAndMadePrintable) {
  ConnectBody body{};
  std::memset(body.if_name, 'A', sizeof(body.if_name));  // no NUL at all
  body.if_name[3] = 0x07;
  const auto connect = decoded<ConnectMessage>(raw(MessageType::connect, body));
  EXPECT_EQ(connect.interface_name.size(), kNameSize);
  EXPECT_EQ(connect.interface_name.substr(0, 5), "AAA?A");

  DisconnectBody disconnect{};
  std::memset(disconnect.string, 'x', sizeof(disconnect.string));
  EXPECT_EQ(decoded<DisconnectMessage>(raw(MessageType::disconnect, disconnect)).reason.size(), kDisconnectStringSize);
}

// ---- Server handshake ------------------------------------------------------

ServerSettings server_settings() {
  ServerSettings settings;
  settings.id = 4;
  settings.queues = 2;
  settings.max_log2_ring_size = 10;
  return settings;
}

InitMessage good_init() {
  InitMessage init;
  init.id = 4;
  init.name = "client";
  return init;
}

// Drives a server through INIT and one region of `region_size` bytes.
ServerHandshake server_with_region(std::uint64_t region_size, ServerSettings settings = server_settings()) {
  ServerHandshake server(std::move(settings));
  EXPECT_EQ(*server.on_message(good_init(), false), ServerHandshake::Action::reply_ack);
  EXPECT_EQ(*server.on_message(AddRegionMessage{0, region_size}, true), ServerHandshake::Action::reply_ack);
  return server;
}

std::string server_refusal(ServerHandshake& server, const Message& message, bool has_fd) {
  auto action = server.on_message(message, has_fd);
  EXPECT_FALSE(action.ok());
  // Once refused, the connection is over: nothing more is accepted.
  EXPECT_FALSE(server.on_message(AckMessage{}, false).ok());
  return action.ok() ? std::string() : action.error().message;
}

TEST(MemifServerHandshake, HelloAdvertisesIndicesNotCounts) {
  ServerHandshake server(server_settings());
  const HelloMessage hello = server.hello();
  EXPECT_EQ(hello.max_c2s_ring, 1) << "2 queues: the largest ring index is 1";
  EXPECT_EQ(hello.max_s2c_ring, 1);
  EXPECT_EQ(hello.max_region, kMaxPeerRegions - 1);
  EXPECT_EQ(hello.max_log2_ring_size, 10);
  EXPECT_EQ(encode_message(hello).size(), kMessageSize);
}

TEST(MemifServerHandshake, AcceptsTheDpdkSequence) {
  const std::uint64_t ring = ring_bytes(10);
  ServerHandshake server = server_with_region(4 * ring);
  for (std::uint16_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(server.on_message(AddRingMessage{RingType::client_to_server, i, 0, static_cast<std::uint32_t>(i * ring), 10}, true).ok());
  }
  for (std::uint16_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(server.on_message(AddRingMessage{RingType::server_to_client, i, 0, static_cast<std::uint32_t>((2 + i) * ring), 10}, true).ok());
  }
  EXPECT_EQ(*server.on_message(AckMessage{}, false), ServerHandshake::Action::none);
  EXPECT_EQ(*server.on_message(ConnectMessage{"dpdk0"}, false), ServerHandshake::Action::map_and_connect);
  server.mark_connected();
  EXPECT_TRUE(server.connected());
  EXPECT_EQ(server.ring_count(RingType::client_to_server), 2u);
  EXPECT_EQ(server.peer_name(), "client");
  EXPECT_EQ(server.peer_interface_name(), "dpdk0");
  // Connected: only DISCONNECT (and ACK) may come.
  EXPECT_EQ(*server.on_message(DisconnectMessage{0, "going"}, false), ServerHandshake::Action::peer_disconnected);
  EXPECT_EQ(server.peer_disconnect()->reason, "going");
}

TEST(MemifServerHandshake, RefusesWrongInit) {
  {
    ServerHandshake server(server_settings());
    InitMessage init = good_init();
    init.version = 0x0100;
    EXPECT_EQ(server_refusal(server, init, false), "Incompatible memif version 1.0");
  }
  {
    ServerHandshake server(server_settings());
    InitMessage init = good_init();
    init.id = 5;
    EXPECT_EQ(server_refusal(server, init, false), "ID 5 not found");
  }
  ServerSettings with_secret = server_settings();
  with_secret.secret = secret_field("open sesame");
  {
    ServerHandshake server(with_secret);
    EXPECT_EQ(server_refusal(server, good_init(), false), "Secret required");
  }
  {
    ServerHandshake server(with_secret);
    InitMessage init = good_init();
    init.secret = secret_field("open sesame!");
    EXPECT_EQ(server_refusal(server, init, false), "Incorrect secret");
  }
  {
    ServerHandshake server(with_secret);
    InitMessage init = good_init();
    init.secret = secret_field("open sesame");
    EXPECT_TRUE(server.on_message(init, false).ok());
  }
  {
    ServerHandshake server(server_settings());
    EXPECT_EQ(server_refusal(server, good_init(), true), "Unexpected file descriptor with INIT");
  }
}

TEST(MemifServerHandshake, RefusesMessagesOutOfOrder) {
  {
    ServerHandshake server(server_settings());
    EXPECT_EQ(server_refusal(server, AddRegionMessage{0, 4096}, true), "Unexpected message ADD_REGION");
  }
  {
    ServerHandshake server(server_settings());
    EXPECT_EQ(server_refusal(server, HelloMessage{}, false), "Unexpected message HELLO");
  }
  {
    ServerHandshake server = server_with_region(1 << 20);
    EXPECT_EQ(server_refusal(server, good_init(), false), "Unexpected message INIT");
  }
  {
    ServerHandshake server = server_with_region(1 << 20);
    EXPECT_EQ(server_refusal(server, ConnectedMessage{}, false), "Unexpected message CONNECTED");
  }
}

TEST(MemifServerHandshake, RefusesBadRegions) {
  {
    ServerHandshake server(server_settings());
    ASSERT_TRUE(server.on_message(good_init(), false).ok());
    EXPECT_EQ(server_refusal(server, AddRegionMessage{0, 4096}, false), "Missing region fd");
  }
  {
    ServerHandshake server(server_settings());
    ASSERT_TRUE(server.on_message(good_init(), false).ok());
    EXPECT_EQ(server_refusal(server, AddRegionMessage{1, 4096}, true), "Invalid region index 1 (expected 0)");
  }
  {
    ServerHandshake server(server_settings());
    ASSERT_TRUE(server.on_message(good_init(), false).ok());
    EXPECT_EQ(server_refusal(server, AddRegionMessage{0, 0}, true), "Invalid region size 0");
  }
  {
    ServerHandshake server(server_settings());
    ASSERT_TRUE(server.on_message(good_init(), false).ok());
    EXPECT_EQ(server_refusal(server, AddRegionMessage{0, kMaxRegionSize + 1}, true),
              fmt::format("Invalid region size {}", kMaxRegionSize + 1));
  }
}

// Issue 13, item 6: a peer may not make the server hold more regions, fds
// or mapped bytes than the negotiated queues can use.
TEST(MemifServerHandshake, CapsRegionsAndMappedBytesPerPeer) {
  {
    ServerHandshake server(server_settings());
    ASSERT_TRUE(server.on_message(good_init(), false).ok());
    for (std::uint16_t i = 0; i < kMaxPeerRegions; ++i) {
      ASSERT_TRUE(server.on_message(AddRegionMessage{i, 4096}, true).ok()) << i;
    }
    EXPECT_EQ(server_refusal(server, AddRegionMessage{kMaxPeerRegions, 4096}, true),
              fmt::format("Too many regions (at most {})", kMaxPeerRegions));
  }
  {
    const std::uint64_t limit = peer_mapping_limit(2, 10);
    EXPECT_EQ(limit, kMinPeerMappingBytes) << "2 queues of 1024: the floor";
    ServerHandshake server = server_with_region(limit - 4096);
    ASSERT_TRUE(server.on_message(AddRegionMessage{1, 4096}, true).ok()) << "up to the limit exactly";
    EXPECT_EQ(server_refusal(server, AddRegionMessage{2, 1}, true),
              fmt::format("Regions exceed {} bytes (limit for 2 queues of 2^10)", limit));
  }
  {
    ServerSettings large = server_settings();
    large.queues = 8;
    large.max_log2_ring_size = 14;
    const std::uint64_t limit = peer_mapping_limit(8, 14);
    EXPECT_EQ(limit, 16 * ring_bytes(14) + (std::uint64_t{16} << 14) * kMaxPeerBufferBytes);
    ServerHandshake server = server_with_region(limit, large);
    EXPECT_EQ(server_refusal(server, AddRegionMessage{1, 4096}, true),
              fmt::format("Regions exceed {} bytes (limit for 8 queues of 2^14)", limit));
  }
  {
    ServerHandshake server(server_settings());
    ASSERT_TRUE(server.on_message(good_init(), false).ok());
    EXPECT_EQ(server_refusal(server, AddRegionMessage{0, kMaxRegionSize}, true),
              fmt::format("Regions exceed {} bytes (limit for 2 queues of 2^10)", kMinPeerMappingBytes));
  }
}

TEST(MemifServerHandshake, RefusesBadRings) {
  const std::uint64_t ring = ring_bytes(10);
  struct Case {
    AddRingMessage message;
    bool has_fd;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {{RingType::client_to_server, 0, 0, 0, 10}, false, "Missing interrupt fd"},
      {{RingType::client_to_server, 2, 0, 0, 10}, true, "Invalid ring index C2S 2 (at most 2 rings)"},
      {{RingType::server_to_client, 0, 0, 0, 11}, true, "Invalid ring size 2^11 (at most 2^10)"},
      {{RingType::server_to_client, 0, 1, 0, 10}, true, "Invalid ring region 1"},
      {{RingType::server_to_client, 0, 0, 8, 10}, true, "Misaligned ring offset 8"},
      {{RingType::server_to_client, 0, 0, static_cast<std::uint32_t>(ring), 10}, true, "Ring S2C 0 outside region 0"},
      {{RingType::server_to_client, 0, 0, 0xfffffff0u, 10}, true, "Ring S2C 0 outside region 0"},
  };
  for (const auto& c : cases) {
    ServerHandshake server = server_with_region(ring + 64);
    EXPECT_EQ(server_refusal(server, c.message, c.has_fd), c.reason);
  }
  ServerHandshake server = server_with_region(4 * ring);
  ASSERT_TRUE(server.on_message(AddRingMessage{RingType::client_to_server, 0, 0, 0, 10}, true).ok());
  EXPECT_EQ(server_refusal(server, AddRingMessage{RingType::client_to_server, 0, 0, static_cast<std::uint32_t>(ring), 10}, true),
            "Duplicate ring C2S 0");
}

TEST(MemifServerHandshake, ConnectNeedsContiguousRingsBothWays) {
  const std::uint64_t ring = ring_bytes(10);
  {
    ServerHandshake server = server_with_region(4 * ring);
    ASSERT_TRUE(server.on_message(AddRingMessage{RingType::client_to_server, 0, 0, 0, 10}, true).ok());
    EXPECT_EQ(server_refusal(server, ConnectMessage{}, false), "Missing S2C ring");
  }
  {
    ServerHandshake server = server_with_region(4 * ring);
    ASSERT_TRUE(server.on_message(AddRingMessage{RingType::client_to_server, 1, 0, 0, 10}, true).ok());
    ASSERT_TRUE(server.on_message(AddRingMessage{RingType::server_to_client, 0, 0, static_cast<std::uint32_t>(ring), 10}, true).ok());
    EXPECT_EQ(server_refusal(server, ConnectMessage{}, false), "Missing C2S ring");
  }
}

TEST(MemifServerHandshake, RegionsMayNotFollowRings) {
  const std::uint64_t ring = ring_bytes(10);
  ServerHandshake server = server_with_region(4 * ring);
  ASSERT_TRUE(server.on_message(AddRingMessage{RingType::client_to_server, 0, 0, 0, 10}, true).ok());
  EXPECT_EQ(server_refusal(server, AddRegionMessage{1, 4096}, true), "Region added after rings");
}

// ---- Client handshake ------------------------------------------------------

ClientSettings client_settings() {
  ClientSettings settings;
  settings.id = 1;
  settings.queues = 4;
  settings.log2_ring_size = 12;
  settings.regions = 2;
  return settings;
}

HelloMessage dpdk_hello() {
  HelloMessage hello;
  hello.name = "DPDK 22.11.11";
  hello.max_region = 255;
  hello.max_c2s_ring = 255;
  hello.max_s2c_ring = 255;
  hello.max_log2_ring_size = 14;
  return hello;
}

TEST(MemifClientHandshake, NegotiatesLikeDpdkAndSendsOneMessagePerAck) {
  ClientHandshake client(client_settings());
  HelloMessage hello = dpdk_hello();
  hello.max_s2c_ring = 1;  // the server takes 2 S2C rings
  hello.max_log2_ring_size = 11;
  ASSERT_EQ(*client.on_message(hello, false), ClientHandshake::Action::prepare_resources);
  EXPECT_EQ(client.negotiated().c2s_rings, 4u);
  EXPECT_EQ(client.negotiated().s2c_rings, 2u);
  EXPECT_EQ(client.negotiated().log2_ring_size, 11u);
  EXPECT_EQ(client.peer_name(), "DPDK 22.11.11");

  const Outgoing& first = client.start({AddRegionMessage{0, 4096}}, {AddRingMessage{}});
  EXPECT_EQ(type_of(first.message), MessageType::init);
  EXPECT_EQ(std::get<InitMessage>(first.message).id, 1u);
  ASSERT_EQ(*client.on_message(AckMessage{}, false), ClientHandshake::Action::send_next);
  const Outgoing& region = client.next_outgoing();
  EXPECT_EQ(type_of(region.message), MessageType::add_region);
  EXPECT_EQ(region.fd, Outgoing::Fd::region);
  ASSERT_EQ(*client.on_message(AckMessage{}, false), ClientHandshake::Action::send_next);
  EXPECT_EQ(client.next_outgoing().fd, Outgoing::Fd::ring);
  ASSERT_EQ(*client.on_message(AckMessage{}, false), ClientHandshake::Action::send_next);
  EXPECT_EQ(type_of(client.next_outgoing().message), MessageType::connect);
  // CONNECT is answered by CONNECTED, not ACK.
  EXPECT_FALSE(ClientHandshake(client).on_message(AckMessage{}, false).ok());
  ASSERT_EQ(*client.on_message(ConnectedMessage{"srv"}, false), ClientHandshake::Action::connected);
  EXPECT_TRUE(client.connected());
  EXPECT_EQ(client.peer_interface_name(), "srv");
}

TEST(MemifClientHandshake, RefusesWhatNoServerMaySay) {
  {
    ClientHandshake client(client_settings());
    HelloMessage hello = dpdk_hello();
    hello.min_version = 0x0300;
    hello.max_version = 0x0300;
    auto action = client.on_message(hello, false);
    ASSERT_FALSE(action.ok());
    EXPECT_EQ(action.error().message, "Incompatible memif version (peer 3.0 to 3.0)");
  }
  {
    ClientHandshake client(client_settings());
    HelloMessage hello = dpdk_hello();
    hello.max_region = 0;  // one region; zero copy needs two
    auto action = client.on_message(hello, false);
    ASSERT_FALSE(action.ok());
    EXPECT_EQ(action.error().message, "Peer accepts 1 regions, 2 needed");
  }
  {
    ClientHandshake client(client_settings());
    auto action = client.on_message(ConnectedMessage{}, false);
    ASSERT_FALSE(action.ok());
    EXPECT_EQ(action.error().message, "Unexpected message CONNECTED");
  }
  {
    ClientHandshake client(client_settings());
    auto action = client.on_message(dpdk_hello(), true);
    ASSERT_FALSE(action.ok());
    EXPECT_EQ(action.error().message, "Unexpected file descriptor with HELLO");
  }
  {
    ClientHandshake client(client_settings());
    ASSERT_TRUE(client.on_message(dpdk_hello(), false).ok());
    auto action = client.on_message(dpdk_hello(), false);  // a second HELLO
    ASSERT_FALSE(action.ok());
    EXPECT_EQ(action.error().message, "Unexpected message HELLO");
  }
  {
    ClientHandshake client(client_settings());
    EXPECT_EQ(*client.on_message(DisconnectMessage{3, "ID not found"}, false),
              ClientHandshake::Action::peer_disconnected);
    EXPECT_EQ(client.peer_disconnect()->reason, "ID not found");
  }
}

}  // namespace
}  // namespace aether::backends::memif
