// A hostile memif server on the real control socket and in the real shared
// memory (see memif_fake_peer.hpp): Aether is the client. Nonsense from the
// server ends the connection with the reason; bad indices and lengths are
// counted and dropped; a server not on the allowlist hears nothing; an
// eventfd the server made blocking never stalls the worker.
// Needs no privileges: a unit test, so it also runs under ASan and TSan.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "memif_fake_peer.hpp"

namespace aether::test {
namespace {

// ---- Aether is the client; the test is a hostile server. -----------------

HelloMessage server_hello() {
  HelloMessage h;
  h.name = "fake-server";
  h.max_region = 255;
  h.max_c2s_ring = 0;
  h.max_s2c_ring = 0;
  h.max_log2_ring_size = 14;
  return h;
}

class MemifHostileServer : public ::testing::Test {
 protected:
  void SetUp() override { server_ = FakePeer::listen_on(directory_.socket()); }

  void open_client(const std::string& query = "") {
    auto opened = open_memif("memif:" + directory_.socket() + "?retry_ms=20&rsize=4" + query, 2, 1024);
    ASSERT_TRUE(opened.ok()) << opened.error().describe();
    client_ = std::move(*opened);
    ASSERT_TRUE(server_.accept_one());
  }

  static HelloMessage hello() { return server_hello(); }

  TempDirectory directory_;
  FakePeer server_;
  MemifEnd client_;
};

TEST_F(MemifHostileServer, NonsenseFromTheServerEndsTheConnectionWithTheReason) {
  open_client();
  HelloMessage future = hello();
  future.min_version = 0x0300;
  future.max_version = 0x0300;
  server_.send(future);
  EXPECT_EQ(server_.disconnect_reason(), "Incompatible memif version (peer 3.0 to 3.0)");
  ASSERT_TRUE(server_.accept_one()) << "the client retries";
  server_.send(ConnectedMessage{"too early"});
  EXPECT_EQ(server_.disconnect_reason(), "Unexpected message CONNECTED");
  ASSERT_TRUE(server_.accept_one());
  server_.send(hello(), new_eventfd());
  EXPECT_EQ(server_.disconnect_reason(), "Unexpected file descriptor with HELLO");
  EXPECT_FALSE(client_.memif().connection_status().last_disconnect_by_peer);
}

// The fake server's view of a zero-copy Aether client after the handshake.
struct ClientResources {
  ~ClientResources() {
    if (base != nullptr) ::munmap(base, region0_size);
    for (int fd : fds) ::close(fd);
  }
  std::byte* base = nullptr;
  std::uint64_t region0_size = 0;
  std::vector<int> fds;  // region 0, region 1 (the pool), then one eventfd per ring in ADD_RING order
  RingView c2s, s2c;
  int c2s_event = -1;
};

// Plays a well-behaved server up to CONNECTED; the client's link is up.
void serve_handshake(FakePeer& server, MemifEnd& client, ClientResources& resources) {
  server.send(server_hello());
  const auto init = server.expect<InitMessage>();
  EXPECT_EQ(init.version, kVersion);
  server.send(AckMessage{});
  std::vector<AddRegionMessage> regions;
  std::vector<AddRingMessage> rings;
  for (int i = 0; i < 2; ++i) {  // zero copy: the ring region and the pool
    regions.push_back(server.expect<AddRegionMessage>());
    server.send(AckMessage{});
  }
  for (int i = 0; i < 2; ++i) {
    rings.push_back(server.expect<AddRingMessage>());
    server.send(AckMessage{});
  }
  (void)server.expect<ConnectMessage>();
  resources.fds = std::exchange(server.received_fds(), {});
  ASSERT_EQ(resources.fds.size(), 4u) << "two region fds, two eventfds";
  resources.region0_size = regions[0].size;
  auto* base = static_cast<std::byte*>(
      ::mmap(nullptr, regions[0].size, PROT_READ | PROT_WRITE, MAP_SHARED, resources.fds[0], 0));
  ASSERT_NE(base, MAP_FAILED);
  resources.base = base;
  for (std::size_t i = 0; i < rings.size(); ++i) {
    const RingView view(base + rings[i].offset, rings[i].log2_ring_size);
    EXPECT_EQ(view.load_cookie(), kRingCookie);
    if (rings[i].type == RingType::server_to_client) {
      resources.s2c = view;
    } else {
      resources.c2s = view;
      resources.c2s_event = resources.fds[2 + i];
    }
  }
  server.send(ConnectedMessage{"fake-server0"});
  ASSERT_TRUE(client.memif().wait_until_up(kLinkTimeout));
}

TEST_F(MemifHostileServer, BadIndicesAndLengthsFromTheServerAreCountedAndDropped) {
  open_client();
  ClientResources resources;
  serve_handshake(server_, client_, resources);
  const RingView& s2c = resources.s2c;
  mem::Packet* burst[32];
  EXPECT_EQ(client_.queue().rx_burst(burst), 0u);
  EXPECT_EQ(s2c.load_head(std::memory_order_acquire), 16) << "the client offered its buffers at its first burst";
  EXPECT_EQ(s2c.load_flags(), kRingFlagMaskInterrupt) << "polling: the client masked interrupts";

  // Slot 0: a length longer than the buffer lent; slot 1: fine; then a
  // tail beyond what was lent.
  const Descriptor lent = s2c.load(1);
  s2c.store(0, Descriptor{0, 1, 1'000'000, 0, 0});
  s2c.store(1, Descriptor{0, lent.region, 64, lent.offset, 0});
  s2c.store_tail(2, std::memory_order_release);
  unsigned n = 0;
  for (int i = 0; i < 100 && n == 0; ++i) n = client_.queue().rx_burst(burst);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(burst[0]->length(), 64);
  client_.pool->free_bulk({burst, n});
  s2c.store_tail(2 + 17, std::memory_order_release);
  EXPECT_EQ(client_.queue().rx_burst(burst), 0u);
  const auto counters = client_.memif().memif_counters(0);
  EXPECT_EQ(counters.bad_descriptors, 1u);
  EXPECT_EQ(counters.bad_indices, 1u);

  // The server vanishes without a word: the client notices and retries.
  server_.hang_up();
  ASSERT_TRUE(client_.memif().wait_until_down(kLinkTimeout));
  EXPECT_TRUE(client_.memif().connection_status().last_disconnect_by_peer);
  EXPECT_TRUE(server_.accept_one()) << "the client came back";
}

// Issue 13, item 8: a server socket can be squatted (an abstract name, a
// shared directory): a client checks who listens before it says anything.
TEST_F(MemifHostileServer, AClientSaysNothingToAServerNotOnItsAllowlist) {
  open_client(fmt::format("&allow=uid:{}", ::geteuid() + 1));
  EXPECT_TRUE(server_.receive().closed) << "hung up at once: no INIT for an impostor";
  EXPECT_FALSE(client_.memif().connection_status().connected);
  EXPECT_EQ(client_.memif().connection_status().connections, 0u);
}

// Issue 13, item 3: O_NONBLOCK belongs to the open file, which the peer
// shares. A server that clears it and fills the counter of the eventfd it
// asked to be signalled on must not stall the client's tx_burst.
TEST_F(MemifHostileServer, AnEventfdThePeerMadeBlockingAndFullNeverStallsTheWorker) {
  open_client();
  ClientResources resources;
  serve_handshake(server_, client_, resources);
  const int event = resources.c2s_event;
  const int flags = ::fcntl(event, F_GETFL);
  ASSERT_EQ(::fcntl(event, F_SETFL, flags & ~O_NONBLOCK), 0);
  const std::uint64_t full = 0xfffffffffffffffe;
  ASSERT_EQ(::write(event, &full, sizeof(full)), 8);
  resources.c2s.store_flags(0);  // "signal me"

  std::atomic<bool> returned{false};
  std::thread worker([&] {
    mem::Packet* frame = nullptr;
    ASSERT_EQ(client_.pool->alloc_bulk({&frame, 1}), 1u);
    ASSERT_TRUE(frame->set_length(60));
    EXPECT_EQ(client_.queue().tx_burst({&frame, 1}), 1u);
    returned.store(true);
  });
  EXPECT_TRUE(eventually([&] { return returned.load(); })) << "tx_burst is stuck in a write the peer blocked";
  EXPECT_TRUE(eventually([&] { return client_.memif().memif_counters(0).interrupts_skipped == 1; }));
  EXPECT_EQ(client_.memif().memif_counters(0).interrupts_sent, 0u);
  std::uint64_t drained = 0;
  EXPECT_EQ(::read(event, &drained, sizeof(drained)), 8);  // frees a writer, were one stuck
  worker.join();
}

}  // namespace
}  // namespace aether::test
