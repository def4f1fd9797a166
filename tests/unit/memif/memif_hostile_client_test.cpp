// A hostile peer on the real control socket and in the real shared memory:
// malformed and out-of-order messages, fds that are not what they claim,
// regions smaller than declared, bad ring cookies, stalled handshakes, then
// bad descriptors and impossible indices on a live connection. Aether must
// answer each control-level offence with a DISCONNECT naming it, count
// each data-level one, and keep serving the next, well-behaved peer.
// Needs no privileges: a unit test, so it also runs under ASan and TSan.
// This file: Aether is the server; the test is a hostile client.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "memif_fake_peer.hpp"

namespace aether::test {
namespace {

class MemifHostileClient : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = open_memif("memif:" + directory_.socket() + "?role=server&handshake_ms=300", 1, 1024);
    ASSERT_TRUE(opened.ok()) << opened.error().describe();
    server_ = std::move(*opened);
  }

  // Connects, reads HELLO, sends `offence`, and returns Aether's reason.
  std::string reason_for(const std::function<void(FakePeer&)>& offence) {
    FakePeer peer = FakePeer::connect_to(directory_.socket());
    const auto hello = peer.expect<HelloMessage>();
    EXPECT_EQ(hello.min_version, kVersion);
    offence(peer);
    const std::string reason = peer.disconnect_reason();
    EXPECT_FALSE(server_.memif().connection_status().last_disconnect_by_peer);
    return reason;
  }

  // The handshake of a well-behaved client with `region`; ends connected.
  void connect(FakePeer& peer, FakeRegion& region) {
    (void)peer.expect<HelloMessage>();
    peer.send(init_for(0));
    (void)peer.expect<AckMessage>();
    peer.send(AddRegionMessage{0, region.size}, region.fd);
    (void)peer.expect<AckMessage>();
    const int c2s_event = new_eventfd();
    const int s2c_event = new_eventfd();
    peer.send(AddRingMessage{RingType::client_to_server, 0, 0, 0, FakeRegion::kLog2}, c2s_event);
    (void)peer.expect<AckMessage>();
    peer.send(AddRingMessage{RingType::server_to_client, 0, 0, static_cast<std::uint32_t>(ring_bytes(FakeRegion::kLog2)),
                             FakeRegion::kLog2},
              s2c_event);
    (void)peer.expect<AckMessage>();
    ::close(c2s_event);
    ::close(s2c_event);
    peer.send(ConnectMessage{"fake0"});
    EXPECT_EQ(peer.expect<ConnectedMessage>().interface_name, fmt::format("aether-{}", ::getpid()));
    EXPECT_TRUE(server_.memif().wait_until_up(kLinkTimeout));
  }

  TempDirectory directory_;
  MemifEnd server_;
};

TEST_F(MemifHostileClient, MalformedDatagramsEndTheConnectionWithTheReason) {
  EXPECT_EQ(reason_for([](FakePeer& p) { p.send_raw(std::array<char, 64>{}.data(), 64); }), "Invalid message size 64");
  EXPECT_EQ(reason_for([](FakePeer& p) { p.send_raw(std::array<char, 200>{}.data(), 200); }),
            "Invalid message size 128 (truncated)");
  EXPECT_EQ(reason_for([](FakePeer& p) {
              WireMessage raw{};
              raw[0] = std::byte{77};
              p.send_raw(raw.data(), raw.size());
            }),
            "Unknown message type 77");
  EXPECT_EQ(reason_for([](FakePeer& p) {
              InitMessage init = init_for(0);
              WireMessage raw = encode_message(init);
              raw[2 + 6] = std::byte{2};  // PUNT_INJECT mode
              p.send_raw(raw.data(), raw.size());
            }),
            "Only ethernet mode supported (INIT mode 2)");
  EXPECT_EQ(server_.memif().connection_status().last_disconnect_reason, "Only ethernet mode supported (INIT mode 2)");
}

TEST_F(MemifHostileClient, MessagesOutOfOrderOrForAnotherInterfaceAreRefused) {
  EXPECT_EQ(reason_for([](FakePeer& p) { p.send(init_for(9)); }), "ID 9 not found");
  EXPECT_EQ(reason_for([](FakePeer& p) { p.send(AddRegionMessage{0, 4096}, new_eventfd()); }),
            "Unexpected message ADD_REGION");
  EXPECT_EQ(reason_for([](FakePeer& p) { p.send(ConnectMessage{"x"}); }), "Unexpected message CONNECT");
  EXPECT_EQ(reason_for([](FakePeer& p) {
              p.send(init_for(0));
              (void)p.expect<AckMessage>();
              p.send(init_for(0));
            }),
            "Unexpected message INIT");
  EXPECT_EQ(reason_for([](FakePeer& p) { p.send(init_for(0), new_eventfd()); }),
            "Unexpected file descriptor with INIT");
  EXPECT_EQ(reason_for([](FakePeer& p) {
              const WireMessage raw = encode_message(init_for(0));
              p.send_raw(raw.data(), raw.size(), {new_eventfd(), new_eventfd()});
            }),
            "2 file descriptors in one message");
}

TEST_F(MemifHostileClient, FdsThatAreNotWhatTheyClaimAreRefused) {
  auto after_init = [](FakePeer& p) {
    p.send(init_for(0));
    (void)p.expect<AckMessage>();
  };
  EXPECT_EQ(reason_for([&](FakePeer& p) {
              after_init(p);
              int pipe_fds[2];
              ASSERT_EQ(::pipe(pipe_fds), 0);
              p.send(AddRegionMessage{0, 4096}, pipe_fds[0]);
            }),
            "Region fd is not a memory file");
  EXPECT_EQ(reason_for([&](FakePeer& p) {
              after_init(p);
              FakeRegion region;
              p.send(AddRegionMessage{0, 1 << 20}, region.fd);  // declares more than the file holds
            }),
            fmt::format("Region of {} bytes declared {}", FakeRegion().size, 1 << 20));
  EXPECT_EQ(reason_for([&](FakePeer& p) {
              after_init(p);
              FakeRegion region;
              p.send(AddRegionMessage{0, region.size}, region.fd);
              (void)p.expect<AckMessage>();
              int pipe_fds[2];
              ASSERT_EQ(::pipe(pipe_fds), 0);
              p.send(AddRingMessage{RingType::client_to_server, 0, 0, 0, FakeRegion::kLog2}, pipe_fds[1]);
            }),
            "Interrupt fd is not an eventfd");
  EXPECT_EQ(reason_for([&](FakePeer& p) {
              after_init(p);
              FakeRegion region(true, 0xbadc0de);
              p.send(AddRegionMessage{0, region.size}, region.fd);
              (void)p.expect<AckMessage>();
              p.send(AddRingMessage{RingType::client_to_server, 0, 0, 0, FakeRegion::kLog2}, new_eventfd());
              (void)p.expect<AckMessage>();
              p.send(AddRingMessage{RingType::server_to_client, 0, 0,
                                    static_cast<std::uint32_t>(ring_bytes(FakeRegion::kLog2)), FakeRegion::kLog2},
                     new_eventfd());
              (void)p.expect<AckMessage>();
              p.send(ConnectMessage{"fake0"});
            }),
            "Wrong ring cookie 0xbadc0de on C2S ring 0");
}

// Issue 13, item 4: a region the peer could still shrink would kill the
// server with SIGBUS: refused, with the reason.
TEST_F(MemifHostileClient, RegionsThePeerCouldShrinkAreRefused) {
  auto after_init = [](FakePeer& p) {
    p.send(init_for(0));
    (void)p.expect<AckMessage>();
  };
  const std::string file = directory_.path() + "/plain-region";
  EXPECT_EQ(reason_for([&](FakePeer& p) {
              after_init(p);
              const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
              ASSERT_GE(fd, 0);
              ASSERT_EQ(::ftruncate(fd, 65536), 0);
              p.send(AddRegionMessage{0, 65536}, fd);
              ::close(fd);
            }),
            "Region cannot be sealed against shrinking (not a memfd)");
  EXPECT_EQ(reason_for([&](FakePeer& p) {
              after_init(p);
              const int fd = ::memfd_create("unsealable", MFD_CLOEXEC);  // born with F_SEAL_SEAL only
              ASSERT_EQ(::ftruncate(fd, 65536), 0);
              p.send(AddRegionMessage{0, 65536}, fd);
              ::close(fd);
            }),
            "Region cannot be sealed against shrinking (F_SEAL_SEAL set without F_SEAL_SHRINK)");
  EXPECT_EQ(reason_for([&](FakePeer& p) {
              after_init(p);
              const int fd = ::memfd_create("sealed-open", MFD_CLOEXEC | MFD_ALLOW_SEALING);
              ASSERT_EQ(::ftruncate(fd, 65536), 0);
              ASSERT_EQ(::fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), 0);
              p.send(AddRegionMessage{0, 65536}, fd);
              ::close(fd);
            }),
            "Region cannot be sealed against shrinking (F_SEAL_SEAL set without F_SEAL_SHRINK)");
}

// Issue 13, item 8: SO_PEERCRED against the allowlist (default: our euid
// and root). A peer not on it is told why and never greeted.
TEST_F(MemifHostileClient, APeerNotOnTheAllowlistIsRefused) {
  const std::uint32_t someone_else = ::geteuid() + 1;
  auto strict = open_memif(fmt::format("memif:{}?role=server&allow=uid:{}", directory_.socket("strict.sock"), someone_else),
                           3, 64);
  ASSERT_TRUE(strict.ok()) << strict.error().describe();
  FakePeer peer = FakePeer::connect_to(directory_.socket("strict.sock"));
  EXPECT_EQ(peer.disconnect_reason(),
            fmt::format("Peer uid {} gid {} (pid {}) not allowed", ::geteuid(), ::getegid(), ::getpid()));
  strict->close();
  auto by_group = open_memif(
      fmt::format("memif:{}?role=server&allow=uid:{}+gid:{}", directory_.socket("group.sock"), someone_else, ::getegid()),
      4, 64);
  ASSERT_TRUE(by_group.ok()) << by_group.error().describe();
  FakePeer member = FakePeer::connect_to(directory_.socket("group.sock"));
  EXPECT_EQ(member.expect<HelloMessage>().min_version, kVersion) << "a member of an allowed group is greeted";
}

TEST_F(MemifHostileClient, AStalledHandshakeIsDropped) {
  EXPECT_EQ(reason_for([](FakePeer&) {}), "Handshake not complete after 300 ms");
  // And the server is free for the next peer.
  FakePeer peer = FakePeer::connect_to(directory_.socket());
  FakeRegion region;
  connect(peer, region);
}

// Issue 13, item 5: knocks on the listener (each turned away) used to move
// the deadline of the handshake in progress, so one stalled peer plus a
// connect attempt every < handshake_ms locked everybody else out.
TEST_F(MemifHostileClient, KnockingDoesNotExtendAStalledHandshake) {
  FakePeer stalled = FakePeer::connect_to(directory_.socket());
  (void)stalled.expect<HelloMessage>();
  std::atomic<bool> stop{false};
  std::thread knocker([&] {
    while (!stop.load()) {
      FakePeer knock = FakePeer::connect_to(directory_.socket());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // < handshake_ms (300)
    }
  });
  EXPECT_EQ(stalled.disconnect_reason(), "Handshake not complete after 300 ms");
  stop.store(true);
  knocker.join();
  // (A knock may have become the next handshake meanwhile: that the server
  // is free again after a stall is AStalledHandshakeIsDropped's point.)
}

TEST_F(MemifHostileClient, BadDescriptorsAndIndicesAreCountedAndDropped) {
  FakePeer peer = FakePeer::connect_to(directory_.socket());
  FakeRegion region(false);  // unsealed: the server seals it itself
  connect(peer, region);
  EXPECT_NE(::ftruncate(region.fd, 0), 0) << "the server added F_SEAL_SHRINK: the peer can no longer shrink it";

  net::Queue& queue = server_.queue();
  mem::Packet* burst[32];
  // C2S: good, out of the region, wrapping offset, good.
  std::memset(region.base + region.buffer(0), 0x42, 256);
  region.c2s.store(0, Descriptor{0, 0, 100, region.buffer(0), 0});
  region.c2s.store(1, Descriptor{0, 0, 100, static_cast<std::uint32_t>(region.size - 50), 0});
  region.c2s.store(2, Descriptor{0, 3, 100, region.buffer(1), 0});
  region.c2s.store(3, Descriptor{0, 0, 0xffff, 0xffff0000u, 0});
  region.c2s.store(4, Descriptor{0, 0, 60, region.buffer(0), 0});
  region.c2s.store_head(5, std::memory_order_release);
  unsigned n = 0;
  for (int i = 0; i < 100 && n == 0; ++i) n = queue.rx_burst(burst);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(burst[0]->length(), 100);
  EXPECT_EQ(std::to_integer<int>(burst[0]->data()[99]), 0x42);
  server_.pool->free_bulk({burst, n});
  EXPECT_EQ(server_.memif().memif_counters(0).bad_descriptors, 3u);
  EXPECT_EQ(server_.port->stats().rx_drop_bad_frame, 3u);

  // An impossible head: nothing is consumed.
  region.c2s.store_head(5 + 17, std::memory_order_release);
  EXPECT_EQ(queue.rx_burst(burst), 0u);
  EXPECT_EQ(server_.memif().memif_counters(0).bad_indices, 1u);
  EXPECT_EQ(region.c2s.load_tail(std::memory_order_acquire), 5);

  // S2C: one offered buffer points outside the region, the next is good.
  region.s2c.store(0, Descriptor{0, 0, 256, static_cast<std::uint32_t>(region.size), 0});
  region.s2c.store(1, Descriptor{0, 0, 256, region.buffer(16), 0});
  region.s2c.store_head(2, std::memory_order_release);
  mem::Packet* frame = nullptr;
  ASSERT_EQ(server_.pool->alloc_bulk({&frame, 1}), 1u);
  ASSERT_TRUE(frame->set_length(200));
  std::memset(frame->data(), 0x77, 200);
  EXPECT_EQ(queue.tx_burst({&frame, 1}), 1u);
  EXPECT_EQ(region.s2c.load_tail(std::memory_order_acquire), 2);
  EXPECT_EQ(region.s2c.load(0).length, 0u) << "the bad buffer went back empty";
  EXPECT_EQ(region.s2c.load(1).length, 200u);
  EXPECT_EQ(std::to_integer<int>(region.base[region.buffer(16) + 199]), 0x77);
  EXPECT_EQ(server_.memif().memif_counters(0).bad_descriptors, 4u);

  // The peer says goodbye; the server takes the next client.
  peer.send(DisconnectMessage{0, "fake is leaving"});
  ASSERT_TRUE(server_.memif().wait_until_down(kLinkTimeout));
  const auto status = server_.memif().connection_status();
  EXPECT_EQ(status.last_disconnect_reason, "fake is leaving");
  EXPECT_TRUE(status.last_disconnect_by_peer);
  FakePeer next = FakePeer::connect_to(directory_.socket());
  FakeRegion next_region;
  connect(next, next_region);
  EXPECT_EQ(server_.memif().connection_status().connections, 2u);
}

// Issue 13, item 1: a client that connects and disconnects in a tight loop
// (DISCONNECT right behind CONNECT) while the server's worker keeps
// bursting. The control thread may free a connection only once the worker
// acknowledged its detachment; run under ASan and TSan, a reap too early is
// a use after free / unmap, or a reported race.
TEST_F(MemifHostileClient, ConnectDisconnectInATightLoopWhileTrafficFlows) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> bursts{0};
  std::thread worker([&] {
    net::Queue& queue = server_.queue();
    mem::Packet* burst[8];
    while (!stop.load()) {
      const unsigned n = queue.rx_burst(burst);
      server_.pool->free_bulk({burst, n});
      mem::Packet* frame = nullptr;
      if (server_.pool->alloc_bulk({&frame, 1}) == 1) {
        (void)frame->set_length(60);
        (void)queue.tx_burst({&frame, 1});
      }
      bursts.fetch_add(1);
    }
  });
  constexpr unsigned kRounds = 60;
  for (unsigned round = 0; round < kRounds; ++round) {
    FakePeer peer = FakePeer::connect_to(directory_.socket());
    FakeRegion region;
    // Frames waiting on C2S and buffers offered on S2C: the worker has
    // something to do with the rings the moment it takes them up.
    for (std::uint16_t i = 0; i < 4; ++i) {
      region.c2s.store(i, Descriptor{0, 0, 60, region.buffer(i), 0});
      region.s2c.store(i, Descriptor{0, 0, 256, region.buffer(16 + i), 0});
    }
    region.c2s.store_head(4, std::memory_order_release);
    region.s2c.store_head(4, std::memory_order_release);
    (void)peer.expect<HelloMessage>();
    peer.send(init_for(0));
    (void)peer.expect<AckMessage>();
    peer.send(AddRegionMessage{0, region.size}, region.fd);
    (void)peer.expect<AckMessage>();
    for (const RingType type : {RingType::client_to_server, RingType::server_to_client}) {
      const int event = new_eventfd();
      const auto offset = static_cast<std::uint32_t>(type == RingType::client_to_server ? 0 : ring_bytes(FakeRegion::kLog2));
      peer.send(AddRingMessage{type, 0, 0, offset, FakeRegion::kLog2}, event);
      ::close(event);
      (void)peer.expect<AckMessage>();
    }
    peer.send(ConnectMessage{"flapping"});
    peer.send(DisconnectMessage{0, "gone again"});  // without waiting for CONNECTED
    // Whatever comes back (CONNECTED, or nothing), the socket closes.
    for (int i = 0; i < 3 && !peer.receive().closed; ++i) {
    }
  }
  ASSERT_TRUE(eventually([&] { return server_.memif().connection_status().disconnects == kRounds; }));
  const std::uint64_t before = bursts.load();
  ASSERT_TRUE(eventually([&] { return bursts.load() > before + 100; })) << "the worker never stalled";
  stop.store(true);
  worker.join();
  EXPECT_EQ(server_.memif().connection_status().connections, kRounds);
  // And the server still serves a well-behaved client.
  FakePeer peer = FakePeer::connect_to(directory_.socket());
  FakeRegion region;
  connect(peer, region);
}

}  // namespace
}  // namespace aether::test
