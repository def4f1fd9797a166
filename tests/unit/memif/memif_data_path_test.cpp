// The memif data path against a well-behaved peer and against a hostile
// one. The "shared memory" here is ordinary heap memory of the exact size a
// peer would declare, so under AddressSanitizer any read or write the
// validation lets through past a region's end is caught. The test plays the
// peer by writing descriptors and indices straight into the rings.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../../../src/backends/memif/client_queue.hpp"
#include "../../../src/backends/memif/file_descriptor.hpp"
#include "../../../src/backends/memif/server_queue.hpp"
#include "memif_test_support.hpp"

namespace aether::backends::memif {
namespace {

constexpr unsigned kLog2 = 4;  // 16 descriptors: wrap-around comes quickly
constexpr std::uint32_t kRingSize = 1u << kLog2;

std::unique_ptr<mem::Mempool> make_pool(const char* name, std::uint32_t count = 512) {
  mem::MempoolConfig config;
  config.count = count;
  config.headroom = 256;
  config.stride_power_of_two = true;
  config.cache_size = 32;
  config.name = name;
  config.region.use_hugepages = false;
  auto pool = mem::Mempool::create(config);
  EXPECT_TRUE(pool.ok()) << pool.error().describe();
  return std::move(pool).value();
}

// Heap memory standing in for a shared region: ASan knows its exact end.
struct HeapRegion {
  explicit HeapRegion(std::size_t bytes) : size(bytes), base(new(std::align_val_t{64}) std::byte[bytes]()) {}
  ~HeapRegion() { ::operator delete[](base, std::align_val_t{64}); }
  HeapRegion(const HeapRegion&) = delete;
  HeapRegion& operator=(const HeapRegion&) = delete;
  std::size_t size;
  std::byte* base;
};

// One queue pair's worth of rings (C2S at 0, S2C after it) and, for a copy
// client, a buffer per slot after them: the layout a client builds.
struct Link {
  explicit Link(std::uint32_t buffer_size = 0)
      : rings_end(2 * ring_bytes(kLog2)),
        region0(rings_end + 2 * kRingSize * buffer_size) {
    c2s = RingView(region0.base, kLog2);
    s2c = RingView(region0.base + ring_bytes(kLog2), kLog2);
    c2s.store_cookie(kRingCookie);
    s2c.store_cookie(kRingCookie);
    table.set(0, RegionView{region0.base, region0.size});
    client.regions = &table;
    client.tx_ring = c2s;
    client.rx_ring = s2c;
    client.buffer_size = buffer_size;
    client.tx_buffers_offset = static_cast<std::uint32_t>(rings_end);
    client.rx_buffers_offset = static_cast<std::uint32_t>(rings_end + kRingSize * buffer_size);
    server.regions = &table;
    server.rx_ring = c2s;
    server.tx_ring = s2c;
  }
  void lend_pool(const mem::Mempool& pool) {
    table.set(1, RegionView{pool.region().base(), pool.region().length()});
    client.pool_region = 1;
  }
  std::uint64_t rings_end;
  HeapRegion region0;
  RingView c2s;
  RingView s2c;
  RegionTable table;
  QueueBinding client;
  QueueBinding server;
};

// A frame whose bytes encode its sequence number and size.
mem::Packet* make_frame(mem::Mempool& pool, std::uint32_t sequence, std::uint16_t length) {
  mem::Packet* packet = nullptr;
  if (pool.alloc_bulk({&packet, 1}) != 1) return nullptr;
  EXPECT_TRUE(packet->set_length(length));
  for (std::uint16_t i = 0; i < length; ++i) packet->data()[i] = std::byte((sequence * 131 + i) & 0xff);
  return packet;
}

// The same bytes as make_frame, spread over two segments.
mem::Packet* make_chained_frame(mem::Mempool& pool, std::uint32_t sequence, std::uint16_t first, std::uint16_t second) {
  mem::Packet* head = make_frame(pool, sequence, static_cast<std::uint16_t>(first + second));
  mem::Packet* tail = nullptr;
  EXPECT_EQ(pool.alloc_bulk({&tail, 1}), 1u);
  std::memcpy(tail->data(), head->data() + first, second);
  EXPECT_TRUE(tail->set_length(second));
  EXPECT_TRUE(head->set_length(first));
  head->packet_length = first + second;
  head->next = tail;
  return head;
}

// Flattens a (possibly chained) packet.
std::vector<std::byte> bytes_of(const mem::Packet* packet) {
  std::vector<std::byte> out;
  for (const mem::Packet* s = packet; s != nullptr; s = s->next) out.insert(out.end(), s->data(), s->data() + s->length());
  return out;
}

bool frame_matches(const mem::Packet* packet, std::uint32_t sequence, std::size_t length) {
  const auto bytes = bytes_of(packet);
  if (bytes.size() != length || packet->packet_length != length) return false;
  for (std::size_t i = 0; i < length; ++i) {
    if (bytes[i] != std::byte((sequence * 131 + i) & 0xff)) return false;
  }
  return true;
}

// Sends everything, looping (the ring is small), draining on the far side.
template <class Receive>
void send_all(net::Queue& sender, std::vector<mem::Packet*> frames, Receive&& receive) {
  std::size_t sent = 0;
  for (int rounds = 0; sent < frames.size() && rounds < 10'000; ++rounds) {
    sent += sender.tx_burst(std::span(frames).subspan(sent));
    receive();
  }
  ASSERT_EQ(sent, frames.size());
  for (int rounds = 0; rounds < 10; ++rounds) {
    (void)sender.tx_burst({});
    receive();
  }
}

class MemifDataPath : public ::testing::Test {
 protected:
  std::unique_ptr<mem::Mempool> client_pool = make_pool("memif-client");
  std::unique_ptr<mem::Mempool> server_pool = make_pool("memif-server");
};

template <class ClientType>
void exchange_both_ways(mem::Mempool& client_pool, mem::Mempool& server_pool, Link& link) {
  ClientType client(client_pool, 1, 0, false);
  ServerQueue server(server_pool, 2, 0, false);
  client.attach(link.client);
  server.attach(link.server);
  EXPECT_EQ(link.s2c.load_flags(), kRingFlagMaskInterrupt) << "the client polls its rx ring";
  EXPECT_EQ(link.c2s.load_flags(), kRingFlagMaskInterrupt) << "the server polls its rx ring";

  const std::vector<std::uint16_t> sizes = {60, 64, 128, 1514, 1518, 2000, 3000, 60, 1024};
  for (const bool client_sends : {true, false}) {
    mem::Mempool& from_pool = client_sends ? client_pool : server_pool;
    net::Queue& from = client_sends ? static_cast<net::Queue&>(client) : static_cast<net::Queue&>(server);
    net::Queue& to = client_sends ? static_cast<net::Queue&>(server) : static_cast<net::Queue&>(client);
    std::vector<mem::Packet*> frames;
    std::vector<std::size_t> lengths;
    for (std::uint32_t round = 0; round < 7; ++round) {  // 63 frames: several laps of a 16-slot ring
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        const auto sequence = static_cast<std::uint32_t>(round * sizes.size() + i);
        frames.push_back(i == 6 ? make_chained_frame(from_pool, sequence, 1000, 2000)
                                : make_frame(from_pool, sequence, sizes[i]));
        lengths.push_back(i == 6 ? 3000 : sizes[i]);
      }
    }
    std::vector<mem::Packet*> received;
    send_all(from, frames, [&] {
      mem::Packet* burst[8];
      const unsigned n = to.rx_burst(burst);
      received.insert(received.end(), burst, burst + n);
    });
    ASSERT_EQ(received.size(), frames.size());
    for (std::size_t i = 0; i < received.size(); ++i) {
      EXPECT_TRUE(frame_matches(received[i], static_cast<std::uint32_t>(i), lengths[i])) << "frame " << i;
      EXPECT_EQ(received[i]->queue, 0);
    }
    for (mem::Packet* p : received) p->pool->free_bulk({&p, 1});
  }
  EXPECT_EQ(client.stats().tx_packets, 63u);
  EXPECT_EQ(server.stats().rx_packets, 63u);
  EXPECT_EQ(server.stats().tx_packets, 63u);
  EXPECT_EQ(client.stats().rx_packets, 63u);
  EXPECT_EQ(client.stats().rx_drops() + server.stats().rx_drops() + client.stats().tx_drops(), 0u);
  EXPECT_EQ(client.memif_stats().bad_descriptors + server.memif_stats().bad_descriptors, 0u);
  client.detach();
  server.detach();
}

TEST_F(MemifDataPath, ZeroCopyClientAndServerExchangeFramesAndChains) {
  Link link;
  link.lend_pool(*client_pool);
  exchange_both_ways<ClientQueue<true>>(*client_pool, *server_pool, link);
  EXPECT_EQ(client_pool->available(), client_pool->capacity()) << "every lent buffer came back";
}

TEST_F(MemifDataPath, CopyClientChainsFramesOverSmallBuffers) {
  Link link(256);  // a 1514-byte frame takes 6 descriptors
  exchange_both_ways<ClientQueue<false>>(*client_pool, *server_pool, link);
}

TEST_F(MemifDataPath, WithoutConnectionTxDropsAndCountsRxIsEmpty) {
  ServerQueue server(*server_pool, 0, 0, false);
  mem::Packet* frames[3] = {make_frame(*server_pool, 0, 60), make_frame(*server_pool, 1, 60),
                            make_frame(*server_pool, 2, 60)};
  EXPECT_EQ(server.tx_burst(frames), 3u);
  EXPECT_EQ(server.stats().tx_drop_error, 3u);
  EXPECT_EQ(server.memif_stats().tx_link_down, 3u);
  mem::Packet* burst[4];
  EXPECT_EQ(server.rx_burst(burst), 0u);
}

// Issue 13, item 1: a binding requested and replaced before the worker's
// next burst may already have been loaded by that worker (it reads the
// request, then prepares it): it is not free until the worker acknowledged
// the replacement. The old check (adopted != binding) said "free" here.
TEST_F(MemifDataPath, AReplacedBindingIsHeldUntilTheWorkerAcknowledges) {
  Link link;
  ServerQueue server(*server_pool, 0, 0, false);
  const std::uint64_t connected = server.request(&link.server);
  const std::uint64_t disconnected = server.request(nullptr);  // DISCONNECT right after CONNECTED
  EXPECT_GT(disconnected, connected);
  EXPECT_FALSE(server.acknowledged(connected));
  EXPECT_FALSE(server.acknowledged(disconnected)) << "the worker may be preparing the first binding";
  mem::Packet* burst[4];
  EXPECT_EQ(server.rx_burst(burst), 0u);  // the worker's next burst
  EXPECT_TRUE(server.acknowledged(disconnected));
  EXPECT_EQ(link.c2s.load_flags(), 0) << "the worker never took up the binding that was already gone";
  // Requesting the same binding again is a new epoch, taken up at the next burst.
  const std::uint64_t again = server.request(&link.server);
  EXPECT_FALSE(server.acknowledged(again));
  EXPECT_EQ(server.rx_burst(burst), 0u);
  EXPECT_TRUE(server.acknowledged(again));
  EXPECT_EQ(link.c2s.load_flags(), kRingFlagMaskInterrupt) << "prepared: polling";
  server.detach();
}

// ---- The peer is hostile: the test writes the rings. ---------------------

TEST_F(MemifDataPath, ServerRefusesDescriptorsOutsideTheRegions) {
  Link link(256);
  ServerQueue server(*server_pool, 0, 0, false);
  server.attach(link.server);
  const auto region_end = static_cast<std::uint32_t>(link.region0.size);
  const auto data = static_cast<std::uint32_t>(link.rings_end);  // some valid bytes to point at
  std::memset(link.region0.base + data, 0x5a, 64);
  const std::vector<Descriptor> descriptors = {
      {0, 0, 60, data, 0},                  // good
      {0, 7, 60, data, 0},                  // no region 7
      {0, 0, 60, region_end - 10, 0},       // runs 50 bytes past the end
      {0, 0, 0x100, 0xfffffff0u, 0},        // offset + length wraps in 32 bits
      {0, 0, 0xffffffffu, 0, 0},            // absurd length
      {0, 0, 60, region_end, 0},            // starts at the end
      {0, 0, 64, data, 0},                  // good
  };
  for (std::size_t i = 0; i < descriptors.size(); ++i) link.c2s.store(static_cast<std::uint16_t>(i), descriptors[i]);
  link.c2s.store_head(static_cast<std::uint16_t>(descriptors.size()), std::memory_order_release);
  mem::Packet* burst[16];
  const unsigned n = server.rx_burst(burst);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(burst[0]->length(), 60);
  EXPECT_EQ(burst[1]->length(), 64);
  EXPECT_EQ(std::to_integer<int>(burst[1]->data()[63]), 0x5a);
  server_pool->free_bulk({burst, n});
  EXPECT_EQ(server.memif_stats().bad_descriptors, 5u);
  EXPECT_EQ(server.stats().rx_drop_bad_frame, 5u);
  EXPECT_EQ(link.c2s.load_tail(std::memory_order_acquire), descriptors.size()) << "all returned to the client";
  server.detach();
}

TEST_F(MemifDataPath, ServerRefusesImpossibleHeadAndCutChains) {
  Link link(256);
  ServerQueue server(*server_pool, 0, 0, false);
  server.attach(link.server);
  mem::Packet* burst[16];
  link.c2s.store_head(kRingSize + 1, std::memory_order_release);  // more than the ring holds
  EXPECT_EQ(server.rx_burst(burst), 0u);
  link.c2s.store_head(0xfff0, std::memory_order_release);  // "behind" the tail
  EXPECT_EQ(server.rx_burst(burst), 0u);
  EXPECT_EQ(server.memif_stats().bad_indices, 2u);
  EXPECT_EQ(link.c2s.load_tail(std::memory_order_acquire), 0) << "nothing consumed";

  // A chain whose NEXT runs past the published head.
  const auto data = static_cast<std::uint32_t>(link.rings_end);
  link.c2s.store(0, Descriptor{kDescriptorFlagNext, 0, 30, data, 0});
  link.c2s.store(1, Descriptor{kDescriptorFlagNext, 0, 30, data, 0});
  link.c2s.store_head(2, std::memory_order_release);
  EXPECT_EQ(server.rx_burst(burst), 0u);
  EXPECT_EQ(server.memif_stats().incomplete_chains, 1u);
  EXPECT_EQ(link.c2s.load(0).flags, 0) << "consumed descriptors leave with their flags cleared";

  // A good chain after it, from a stale-flag sender: three descriptors.
  link.c2s.store(2, Descriptor{kDescriptorFlagNext, 0, 40, data, 0});
  link.c2s.store(3, Descriptor{kDescriptorFlagNext, 0, 40, data, 0});
  link.c2s.store(4, Descriptor{0, 0, 20, data, 0});
  link.c2s.store_head(5, std::memory_order_release);
  ASSERT_EQ(server.rx_burst(burst), 1u);
  EXPECT_EQ(burst[0]->packet_length, 100u);
  server_pool->free_bulk({burst, 1});
  server.detach();
}

TEST_F(MemifDataPath, ServerSkipsUnusableOfferedBuffersWithoutLosingTheFrame) {
  Link link(256);
  ServerQueue server(*server_pool, 0, 0, false);
  server.attach(link.server);
  const auto data = static_cast<std::uint32_t>(link.rings_end);
  // The "client" offers: a buffer beyond the region, one of capacity 0,
  // then two good 100-byte buffers.
  link.s2c.store(0, Descriptor{0, 0, 100, static_cast<std::uint32_t>(link.region0.size - 50), 0});
  link.s2c.store(1, Descriptor{0, 0, 0, data, 0});
  link.s2c.store(2, Descriptor{0, 0, 100, data, 0});
  link.s2c.store(3, Descriptor{0, 0, 100, data + 100, 0});
  link.s2c.store_head(4, std::memory_order_release);
  mem::Packet* frame = make_frame(*server_pool, 9, 150);
  ASSERT_EQ(server.tx_burst({&frame, 1}), 1u);
  EXPECT_EQ(link.s2c.load_tail(std::memory_order_acquire), 4);
  EXPECT_EQ(server.memif_stats().bad_descriptors, 2u);
  EXPECT_EQ(link.s2c.load(0).length, 0u);
  EXPECT_EQ(link.s2c.load(0).flags, kDescriptorFlagNext) << "an empty segment of the chain";
  EXPECT_EQ(link.s2c.load(2).length, 100u);
  EXPECT_EQ(link.s2c.load(3).length, 50u);
  EXPECT_EQ(link.s2c.load(3).flags, 0);
  EXPECT_EQ(std::to_integer<int>(link.region0.base[data + 149]), (9 * 131 + 149) & 0xff);

  // An offered head beyond the ring: nothing is sent and the caller keeps the frame.
  link.s2c.store_head(static_cast<std::uint16_t>(4 + kRingSize + 1), std::memory_order_release);
  frame = make_frame(*server_pool, 10, 60);
  EXPECT_EQ(server.tx_burst({&frame, 1}), 0u);
  EXPECT_EQ(server.memif_stats().bad_indices, 1u);
  server_pool->free_bulk({&frame, 1});
  server.detach();
}

TEST_F(MemifDataPath, ZeroCopyClientTrustsOnlyLengthAndNextFromTheRing) {
  Link link;
  link.lend_pool(*client_pool);
  ClientQueue<true> client(*client_pool, 0, 0, false);
  client.attach(link.client);
  mem::Packet* burst[16];
  EXPECT_EQ(client.rx_burst(burst), 0u);  // offers 16 buffers
  EXPECT_EQ(link.s2c.load_head(std::memory_order_acquire), kRingSize);
  const std::size_t lent = client_pool->capacity() - client_pool->available();
  EXPECT_GE(lent, kRingSize);

  // The "server" fills slot 0 properly (in the buffer we lent), garbles
  // region/offset of slot 1 (ignored: we know our buffers), claims an
  // over-long slot 2, and leaves a chain open at slot 3.
  Descriptor d0 = link.s2c.load(0);
  std::memset(link.table.resolve(d0.region, d0.offset, 60), 0x11, 60);
  link.s2c.store(0, Descriptor{0, d0.region, 60, d0.offset, 0});
  Descriptor d1 = link.s2c.load(1);
  link.s2c.store(1, Descriptor{0, 99, 70, 0xffffff00u, 0});
  link.s2c.store(2, Descriptor{0, 1, 1'000'000, 0, 0});
  link.s2c.store(3, Descriptor{kDescriptorFlagNext, 1, 10, 0, 0});
  link.s2c.store_tail(4, std::memory_order_release);
  const unsigned n = client.rx_burst(burst);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(burst[0]->length(), 60);
  EXPECT_EQ(std::to_integer<int>(burst[0]->data()[59]), 0x11);
  EXPECT_EQ(burst[1]->length(), 70);
  EXPECT_EQ(client_pool->offset_of(burst[1]) + sizeof(mem::Packet) + burst[1]->data_offset, d1.offset)
      << "the buffer is the one lent in that slot, whatever the descriptor says";
  EXPECT_EQ(client.memif_stats().bad_descriptors, 1u);
  EXPECT_EQ(client.memif_stats().incomplete_chains, 1u);
  EXPECT_EQ(client.stats().rx_drop_bad_frame, 2u);
  client_pool->free_bulk({burst, n});

  // A tail that returns more than was lent.
  link.s2c.store_tail(static_cast<std::uint16_t>(4 + kRingSize + 1), std::memory_order_release);
  EXPECT_EQ(client.rx_burst(burst), 0u);
  EXPECT_EQ(client.memif_stats().bad_indices, 1u);
  client.detach();
  client.flush_cache();
  EXPECT_EQ(client_pool->available(), client_pool->capacity()) << "detach took back every lent buffer";
}

TEST_F(MemifDataPath, ZeroCopyClientRestoresMetadataThePeerScribbledOn) {
  Link link;
  link.lend_pool(*client_pool);
  ClientQueue<true> client(*client_pool, 3, 0, false);
  client.attach(link.client);
  mem::Packet* burst[16];
  (void)client.rx_burst(burst);
  // The server can write the whole pool region: it corrupts the metadata
  // of the buffer lent in slot 0 before returning it.
  const Descriptor d0 = link.s2c.load(0);
  auto* lent = reinterpret_cast<mem::Packet*>(client_pool->region().base() + d0.offset -
                                              client_pool->headroom() - sizeof(mem::Packet));
  lent->next = reinterpret_cast<mem::Packet*>(0x1234);
  lent->data_offset = 60000;
  lent->buffer_length = 65535;
  lent->buffer_index = 0xffffff;
  link.s2c.store(0, Descriptor{0, d0.region, 100, d0.offset, 0});
  link.s2c.store_tail(1, std::memory_order_release);
  ASSERT_EQ(client.rx_burst(burst), 1u);
  EXPECT_EQ(burst[0], lent);
  EXPECT_EQ(burst[0]->next, nullptr);
  EXPECT_EQ(burst[0]->data_offset, client_pool->headroom());
  EXPECT_EQ(burst[0]->length(), 100);
  EXPECT_EQ(burst[0]->port, 3);
  EXPECT_EQ(client_pool->packet_at_index(burst[0]->buffer_index), burst[0]);
  client_pool->free_bulk({burst, 1});
  client.detach();
}

// Issue 13, item 2: the server maps the whole pool and can rewrite the
// metadata of every buffer lent to it. What comes back is freed from the
// client's own records, by address: never through `next`, never by
// `buffer_index`.
TEST_F(MemifDataPath, ZeroCopyClientFreesReturnedBuffersWithoutTrustingTheirMetadata) {
  Link link;
  link.lend_pool(*client_pool);
  ClientQueue<true> client(*client_pool, 0, 0, false);
  client.attach(link.client);
  mem::Packet* frames[2] = {make_chained_frame(*client_pool, 0, 100, 200), make_frame(*client_pool, 1, 60)};
  ASSERT_EQ(client.tx_burst(frames), 2u);
  ASSERT_EQ(link.c2s.load_head(std::memory_order_acquire), 3);
  std::byte* const pool_base = client_pool->region().base();
  const std::size_t stride = client_pool->buffer_stride();
  for (std::uint16_t i = 0; i < 3; ++i) {  // the server scribbles on each lent buffer's metadata
    const Descriptor d = link.c2s.load(i);
    auto* packet = reinterpret_cast<mem::Packet*>(pool_base + d.offset / stride * stride);
    packet->next = i == 0 ? reinterpret_cast<mem::Packet*>(0x1000) : packet;  // wild, and a loop
    packet->buffer_index = i == 1 ? 0xfffffff0u : 0;                           // out of range, and another's
    packet->pool = nullptr;
  }
  link.c2s.store_tail(3, std::memory_order_release);
  EXPECT_EQ(client.tx_burst({}), 0u);  // reclaims
  // A returned rx chain the server scribbled on, dropped (its length is too long).
  (void)client.rx_burst({});
  const Descriptor offered = link.s2c.load(0);
  auto* lent = reinterpret_cast<mem::Packet*>(pool_base + offered.offset / stride * stride);
  lent->next = reinterpret_cast<mem::Packet*>(0x2000);
  lent->buffer_index = 0xffffffffu;
  link.s2c.store(0, Descriptor{0, offered.region, 1'000'000, offered.offset, 0});
  link.s2c.store_tail(1, std::memory_order_release);
  mem::Packet* received[4];
  EXPECT_EQ(client.rx_burst(received), 0u);
  EXPECT_EQ(client.memif_stats().bad_descriptors, 1u);
  client.detach();
  client.flush_cache();
  ASSERT_EQ(client_pool->available(), client_pool->capacity()) << "every buffer came back, once";
  // The allocator is intact: every buffer can be allocated, each once, inside the pool.
  std::vector<mem::Packet*> all(client_pool->capacity());
  ASSERT_EQ(client_pool->alloc_bulk(all), all.size());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "no buffer handed out twice";
  EXPECT_GE(reinterpret_cast<std::byte*>(all.front()), pool_base);
  EXPECT_LT(reinterpret_cast<std::byte*>(all.back()), pool_base + client_pool->capacity() * stride);
  client_pool->free_bulk(all);
}

// Issue 13, item 2: the pool's memfd is sealed, so a server that maps it
// cannot truncate it under the client (SIGBUS).
TEST_F(MemifDataPath, ThePoolMemfdIsSealedAgainstResizing) {
  const int fd = client_pool->region().fd();
  ASSERT_GE(fd, 0);
  const int seals = ::fcntl(fd, F_GET_SEALS);
  EXPECT_NE(seals & F_SEAL_SHRINK, 0);
  EXPECT_NE(seals & F_SEAL_GROW, 0);
  EXPECT_NE(seals & F_SEAL_SEAL, 0);
  EXPECT_NE(::ftruncate(fd, 0), 0);
}

TEST_F(MemifDataPath, ZeroCopyClientCountsWhatTheServerNeverConsumed) {
  Link link;
  link.lend_pool(*client_pool);
  ClientQueue<true> client(*client_pool, 0, 0, false);
  client.attach(link.client);
  std::vector<mem::Packet*> frames;
  for (std::uint32_t i = 0; i < 5; ++i) frames.push_back(make_frame(*client_pool, i, 100));
  frames.push_back(make_chained_frame(*client_pool, 5, 50, 50));
  ASSERT_EQ(client.tx_burst(frames), 6u);
  EXPECT_EQ(link.c2s.load_head(std::memory_order_acquire), 7) << "six frames, seven descriptors";
  // The "server" consumes two frames, then sets an impossible tail.
  link.c2s.store_tail(2, std::memory_order_release);
  EXPECT_EQ(client.tx_burst({}), 0u);
  link.c2s.store_tail(9, std::memory_order_release);  // beyond what was sent
  EXPECT_EQ(client.tx_burst({}), 0u);
  EXPECT_EQ(client.memif_stats().bad_indices, 1u);
  client.detach();
  EXPECT_EQ(client.memif_stats().tx_lost_on_disconnect, 4u);
  client.flush_cache();
  EXPECT_EQ(client_pool->available(), client_pool->capacity());
}

TEST_F(MemifDataPath, CopyClientRefusesImpossibleTail) {
  Link link(256);
  ClientQueue<false> client(*client_pool, 0, 0, false);
  client.attach(link.client);
  mem::Packet* frame = make_frame(*client_pool, 0, 600);  // three 256-byte buffers
  ASSERT_EQ(client.tx_burst({&frame, 1}), 1u);
  EXPECT_EQ(link.c2s.load_head(std::memory_order_acquire), 3);
  EXPECT_EQ(link.c2s.load(0).flags, kDescriptorFlagNext);
  EXPECT_EQ(link.c2s.load(2).flags, 0);
  EXPECT_EQ(link.c2s.load(2).length, 88u);
  link.c2s.store_tail(10, std::memory_order_release);  // ahead of head
  frame = make_frame(*client_pool, 1, 60);
  EXPECT_EQ(client.tx_burst({&frame, 1}), 0u);
  EXPECT_EQ(client.memif_stats().bad_indices, 1u);
  client_pool->free_bulk({&frame, 1});
  client.detach();
  EXPECT_EQ(client.memif_stats().tx_lost_on_disconnect, 0u) << "the impossible tail is not believed";
}

// Issue 13, item 7: a frame needing more descriptors than the whole ring
// can never be taken; waiting for room stalled the queue forever.
TEST_F(MemifDataPath, CopyClientDropsAFrameLongerThanItsWholeRing) {
  Link link(64);  // 16 slots of 64 bytes: at most 1024 bytes per frame
  ClientQueue<false> client(*client_pool, 0, 0, false);
  client.attach(link.client);
  mem::Packet* frames[2] = {make_frame(*client_pool, 0, 1500), make_frame(*client_pool, 1, 60)};
  EXPECT_EQ(client.tx_burst(frames), 2u) << "the long frame is dropped, the next one goes";
  EXPECT_EQ(client.memif_stats().tx_longer_than_ring, 1u);
  EXPECT_EQ(client.stats().tx_drop_bad_frame, 1u);
  EXPECT_EQ(client.stats().tx_packets, 1u);
  EXPECT_EQ(link.c2s.load_head(std::memory_order_acquire), 1);
  EXPECT_EQ(link.c2s.load(0).length, 60u);
  client.detach();
}

TEST_F(MemifDataPath, ServerDropsAFrameLongerThanEveryBufferOffered) {
  Link link(64);
  ClientQueue<false> client(*client_pool, 0, 0, false);
  ServerQueue server(*server_pool, 0, 0, false);
  client.attach(link.client);
  server.attach(link.server);  // the client offered its 16 buffers of 64 bytes
  mem::Packet* frame = make_frame(*server_pool, 0, 1500);
  EXPECT_EQ(server.tx_burst({&frame, 1}), 1u);
  EXPECT_EQ(server.memif_stats().tx_longer_than_ring, 1u);
  EXPECT_EQ(server.stats().tx_drop_bad_frame, 1u);
  frame = make_frame(*server_pool, 1, 100);
  EXPECT_EQ(server.tx_burst({&frame, 1}), 1u);
  mem::Packet* received[4];
  ASSERT_EQ(client.rx_burst(received), 1u);
  EXPECT_TRUE(frame_matches(received[0], 1, 100));
  client_pool->free_bulk({received, 1});
  client.detach();
  server.detach();
}

TEST_F(MemifDataPath, ZeroCopyClientDropsAChainLongerThanItsWholeRing) {
  Link link;
  link.lend_pool(*client_pool);
  ClientQueue<true> client(*client_pool, 0, 0, false);
  client.attach(link.client);
  mem::Packet* chain = make_frame(*client_pool, 0, 60);
  mem::Packet* last = chain;
  for (unsigned i = 1; i <= kRingSize; ++i) {  // 17 segments
    last->next = make_frame(*client_pool, i, 60);
    last = last->next;
    chain->packet_length += 60;
  }
  mem::Packet* frames[2] = {chain, make_frame(*client_pool, 99, 60)};
  EXPECT_EQ(client.tx_burst(frames), 2u);
  EXPECT_EQ(client.memif_stats().tx_longer_than_ring, 1u);
  EXPECT_EQ(client.stats().tx_drop_bad_frame, 1u);
  EXPECT_EQ(link.c2s.load_head(std::memory_order_acquire), 1);
  client.detach();
  client.flush_cache();
  EXPECT_EQ(client_pool->available(), client_pool->capacity()) << "the dropped chain went back whole";
}

TEST_F(MemifDataPath, InterruptModeSignalsOnlyWhenThePeerAsks) {
  Link link;
  link.lend_pool(*client_pool);
  FileDescriptor event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  link.client.tx_event_fd = event.get();
  auto notifier = PeerNotifier::start(1);
  ASSERT_TRUE(notifier.ok()) << notifier.error().describe();
  const int targets[] = {event.get()};
  ASSERT_TRUE((*notifier)->set_targets(targets).ok());
  ClientQueue<true> client(*client_pool, 0, 0, true, kLog2, notifier->get());
  client.attach(link.client);
  EXPECT_EQ(link.s2c.load_flags(), 0) << "interrupt mode: the server must signal us";
  mem::Packet* frame = make_frame(*client_pool, 0, 60);
  link.c2s.store_flags(kRingFlagMaskInterrupt);  // the server polls
  ASSERT_EQ(client.tx_burst({&frame, 1}), 1u);
  link.c2s.store_flags(0);  // the server wants interrupts
  frame = make_frame(*client_pool, 1, 60);
  ASSERT_EQ(client.tx_burst({&frame, 1}), 1u);
  // The signal is written by the notifier's thread: wait for it (no timing asserted).
  pollfd signalled{event.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&signalled, 1, 5000), 1);
  std::uint64_t value = 0;
  EXPECT_EQ(::read(event.get(), &value, sizeof(value)), 8);
  EXPECT_EQ(value, 1u) << "one signal: none while the server polled";
  EXPECT_TRUE(test::eventually([&] { return client.memif_stats().interrupts_sent == 1; }));
  client.detach();
}

// Two threads, one per side, as in a real deployment: checks (under TSan)
// that the index publications order the descriptor and buffer accesses.
TEST_F(MemifDataPath, ConcurrentClientAndServerDeliverEverythingInOrder) {
  Link link;
  link.lend_pool(*client_pool);
  ClientQueue<true> client(*client_pool, 0, 0, false);
  ServerQueue server(*server_pool, 0, 0, false);
  client.attach(link.client);
  server.attach(link.server);
  constexpr std::uint32_t kFrames = 4000;
  std::thread echo([&] {  // the server reflects every frame
    std::uint32_t echoed = 0;
    mem::Packet* burst[32];
    while (echoed < kFrames) {
      const unsigned n = server.rx_burst(burst);
      unsigned sent = 0;
      while (sent < n) sent += server.tx_burst(std::span(burst, n).subspan(sent));
      echoed += n;
    }
  });
  std::uint32_t sent = 0;
  std::uint32_t received = 0;
  std::uint32_t wrong = 0;
  mem::Packet* burst[32];
  while (received < kFrames) {
    if (sent < kFrames) {
      mem::Packet* frame = make_frame(*client_pool, sent, static_cast<std::uint16_t>(60 + sent % 1400));
      if (frame != nullptr) {
        if (client.tx_burst({&frame, 1}) == 1) {
          ++sent;
        } else {
          client_pool->free_bulk({&frame, 1});
        }
      }
    }
    const unsigned n = client.rx_burst(burst);
    for (unsigned i = 0; i < n; ++i) {
      wrong += frame_matches(burst[i], received, 60 + received % 1400) ? 0 : 1;
      ++received;
    }
    client_pool->free_bulk({burst, n});
  }
  echo.join();
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(client.stats().rx_packets, kFrames);
  client.detach();
  server.detach();
}

}  // namespace
}  // namespace aether::backends::memif
