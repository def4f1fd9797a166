#include "aether/mem/free_to_owners.hpp"
#include "aether/mem/mempool.hpp"

#include <array>
#include <fstream>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace aether::mem {
namespace {

MempoolConfig small_config(std::uint32_t count) {
  MempoolConfig config;
  config.count = count;
  config.name = "test-pool";
  return config;
}

std::unique_ptr<Mempool> make_pool(const MempoolConfig& config) {
  Result<std::unique_ptr<Mempool>> pool = Mempool::create(config);
  EXPECT_TRUE(pool.ok()) << pool.error().describe();
  return pool.ok() ? std::move(pool).value() : nullptr;
}

std::set<std::uint32_t> indices_of(std::span<Packet* const> packets) {
  std::set<std::uint32_t> indices;
  for (const Packet* packet : packets) indices.insert(packet->buffer_index);
  return indices;
}

TEST(Mempool, CreateRejectsBadConfigNamingTheValue) {
  MempoolConfig no_buffers = small_config(0);
  Result<std::unique_ptr<Mempool>> pool = Mempool::create(no_buffers);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.error().message.find("test-pool"), std::string::npos) << pool.error().message;
  EXPECT_NE(pool.error().message.find("count 0"), std::string::npos) << pool.error().message;

  MempoolConfig small_room = small_config(8);
  small_room.data_room = 1500;
  pool = Mempool::create(small_room);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.error().message.find("data_room 1500"), std::string::npos) << pool.error().message;

  MempoolConfig big_cache = small_config(8);
  big_cache.cache_size = MempoolCache::kMaxSize + 1;
  EXPECT_FALSE(Mempool::create(big_cache).ok());

  MempoolConfig big_headroom = small_config(8);
  big_headroom.headroom = 64 * 1024;
  EXPECT_FALSE(Mempool::create(big_headroom).ok());

  // Fits 16 bits, but the power-of-two stride would not.
  MempoolConfig big_power_of_two = small_config(8);
  big_power_of_two.data_room = 65400;  // 64 + 128 + 65400 -> 65600 -> 131072
  big_power_of_two.stride_power_of_two = true;
  EXPECT_FALSE(Mempool::create(big_power_of_two).ok());
}

TEST(Mempool, LayoutPacksMetadataHeadroomAndDataRoom) {
  std::unique_ptr<Mempool> pool = make_pool(small_config(100));
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->capacity(), 100u);
  EXPECT_EQ(pool->available(), 100u);
  EXPECT_EQ(pool->buffer_stride(), 64u + 128u + 2048u);  // already a multiple of 64
  EXPECT_EQ(pool->headroom(), 128u);
  EXPECT_EQ(pool->data_room(), 2048u);
  EXPECT_TRUE(pool->region().contains(pool->region().base(), 100 * pool->buffer_stride()));

  for (std::uint32_t index = 0; index < 100; ++index) {
    Packet* packet = pool->packet_at_index(index);
    ASSERT_NE(packet, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(packet) % 64, 0u);
    EXPECT_EQ(packet->pool, pool.get());
    EXPECT_EQ(packet->buffer_index, index);
    EXPECT_EQ(packet->headroom(), 128);
    EXPECT_EQ(packet->tailroom(), 2048);
  }
  EXPECT_EQ(pool->packet_at_index(100), nullptr);
}

TEST(Mempool, StrideRoundsUpToLinesOrPowerOfTwo) {
  MempoolConfig odd = small_config(10);
  odd.headroom = 100;
  odd.data_room = 2100;
  std::unique_ptr<Mempool> lines = make_pool(odd);
  ASSERT_NE(lines, nullptr);
  EXPECT_EQ(lines->buffer_stride(), 2304u);               // round_up(64 + 100 + 2100, 64)
  EXPECT_EQ(lines->data_room(), 2304u - 64u - 100u);      // the padding becomes tailroom

  MempoolConfig umem = small_config(10);
  umem.stride_power_of_two = true;
  std::unique_ptr<Mempool> chunks = make_pool(umem);
  ASSERT_NE(chunks, nullptr);
  EXPECT_EQ(chunks->buffer_stride(), 4096u);  // AF_XDP aligned-mode chunk
  EXPECT_EQ(chunks->data_room(), 4096u - 64u - 128u);
  std::array<Packet*, 1> packet{};
  ASSERT_EQ(chunks->alloc_bulk(packet), 1u);
  EXPECT_EQ(packet[0]->tailroom(), 4096 - 64 - 128);
  chunks->free_bulk(packet);
}

TEST(Mempool, ExhaustionReturnsFewerThenZero) {
  std::unique_ptr<Mempool> pool = make_pool(small_config(100));
  ASSERT_NE(pool, nullptr);
  std::vector<Packet*> packets(200);
  ASSERT_EQ(pool->alloc_bulk({packets.data(), 64}), 64u);
  ASSERT_EQ(pool->alloc_bulk({packets.data() + 64, 64}), 36u);  // partial
  EXPECT_EQ(pool->alloc_bulk({packets.data() + 100, 64}), 0u);
  EXPECT_EQ(pool->available(), 0u);
  EXPECT_EQ(indices_of({packets.data(), 100}).size(), 100u);  // all distinct

  pool->free_bulk({packets.data(), 100});
  EXPECT_EQ(pool->available(), 100u);
}

TEST(Mempool, ReallocatedPacketsAreReset) {
  std::unique_ptr<Mempool> pool = make_pool(small_config(2));
  ASSERT_NE(pool, nullptr);
  std::array<Packet*, 2> packets{};
  ASSERT_EQ(pool->alloc_bulk(packets), 2u);
  for (Packet* packet : packets) {
    EXPECT_EQ(packet->length(), 0);
    EXPECT_EQ(packet->next, nullptr);
    EXPECT_EQ(packet->data_offset, 128);
    ASSERT_NE(packet->append(1000), nullptr);
    ASSERT_NE(packet->prepend(20), nullptr);
    packet->flags = 0xff;
    packet->port = 3;
  }
  pool->free_bulk(packets);

  std::array<Packet*, 2> again{};
  ASSERT_EQ(pool->alloc_bulk(again), 2u);
  for (Packet* packet : again) {
    EXPECT_EQ(packet->length(), 0);
    EXPECT_EQ(packet->packet_length, 0u);
    EXPECT_EQ(packet->data_offset, 128);
    EXPECT_EQ(packet->flags, 0u);
    EXPECT_EQ(packet->port, 0);
    EXPECT_EQ(packet->next, nullptr);
  }
  pool->free_bulk(again);
}

TEST(Mempool, CacheRefillsAndFlushesInBulk) {
  MempoolConfig config = small_config(1000);
  std::unique_ptr<Mempool> pool = make_pool(config);
  ASSERT_NE(pool, nullptr);
  std::array<Packet*, 32> packets{};
  {
    MempoolCache cache(*pool, 64);
    ASSERT_EQ(pool->alloc_bulk(packets, &cache), 32u);
    // The refill took 64 + 32: 32 handed out, 64 left in the cache.
    EXPECT_EQ(cache.count(), 64u);
    EXPECT_EQ(pool->available(), 1000u - 96u);

    pool->free_bulk(packets, &cache);
    // 96 reached the flush threshold (1.5 x 64): back down to 64.
    EXPECT_EQ(cache.count(), 64u);
    EXPECT_EQ(pool->available(), 1000u - 64u);

    ASSERT_EQ(pool->alloc_bulk(packets, &cache), 32u);  // served from the cache alone
    EXPECT_EQ(cache.count(), 32u);
    EXPECT_EQ(pool->available(), 1000u - 64u);
    pool->free_bulk(packets, &cache);
  }
  // The cache's destructor returned everything.
  EXPECT_EQ(pool->available(), pool->capacity());
}

TEST(Mempool, CacheCanHandOutTheWholePool) {
  std::unique_ptr<Mempool> pool = make_pool(small_config(100));
  ASSERT_NE(pool, nullptr);
  MempoolCache cache(*pool, 32);
  std::vector<Packet*> packets(100);
  std::size_t total = 0;
  for (;;) {
    const unsigned got = pool->alloc_bulk({packets.data() + total, std::min<std::size_t>(8, 100 - total)}, &cache);
    total += got;
    if (got == 0 || total == 100) break;
  }
  EXPECT_EQ(total, 100u);
  EXPECT_EQ(indices_of(packets).size(), 100u);
  std::array<Packet*, 8> more{};
  EXPECT_EQ(pool->alloc_bulk(more, &cache), 0u);

  pool->free_bulk(packets, &cache);
  cache.flush();
  EXPECT_EQ(cache.count(), 0u);
  EXPECT_EQ(pool->available(), 100u);
}

TEST(Mempool, RequestsLargerThanTheCacheBypassIt) {
  std::unique_ptr<Mempool> pool = make_pool(small_config(100));
  ASSERT_NE(pool, nullptr);
  MempoolCache cache(*pool, 4);
  std::array<Packet*, 10> packets{};
  ASSERT_EQ(pool->alloc_bulk(packets, &cache), 10u);
  EXPECT_EQ(cache.count(), 0u);
  EXPECT_EQ(pool->available(), 90u);
  pool->free_bulk(packets, &cache);
  EXPECT_LE(cache.count(), 6u);  // never above the flush threshold
  cache.flush();
  EXPECT_EQ(pool->available(), 100u);
}

TEST(Mempool, DefaultAndPassThroughCaches) {
  MempoolConfig config = small_config(64);
  config.cache_size = 16;
  std::unique_ptr<Mempool> pool = make_pool(config);
  ASSERT_NE(pool, nullptr);
  MempoolCache default_sized(*pool);
  EXPECT_EQ(default_sized.size(), 16u);
  MempoolCache pass_through(*pool, 0);
  std::array<Packet*, 4> packets{};
  ASSERT_EQ(pool->alloc_bulk(packets, &pass_through), 4u);
  EXPECT_EQ(pool->available(), 60u);
  pool->free_bulk(packets, &pass_through);
  EXPECT_EQ(pool->available(), 64u);

  MempoolCache moved = std::move(default_sized);
  EXPECT_EQ(default_sized.pool(), nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  ASSERT_EQ(pool->alloc_bulk(packets, &moved), 4u);
  pool->free_bulk(packets, &moved);
}

TEST(Mempool, OffsetsRoundTripAndBadOffsetsAreRejected) {
  for (bool power_of_two : {false, true}) {
    MempoolConfig config = small_config(50);
    config.stride_power_of_two = power_of_two;
    std::unique_ptr<Mempool> pool = make_pool(config);
    ASSERT_NE(pool, nullptr);
    const std::uint64_t stride = pool->buffer_stride();
    for (std::uint32_t index = 0; index < 50; ++index) {
      Packet* packet = pool->packet_at_index(index);
      const std::uint64_t offset = pool->offset_of(packet);
      EXPECT_EQ(offset, index * stride);
      EXPECT_EQ(pool->packet_at_offset(offset), packet);
      EXPECT_EQ(reinterpret_cast<std::byte*>(packet), pool->region().base() + offset);
    }
    EXPECT_EQ(pool->packet_at_offset(50 * stride), nullptr);  // one past the last buffer
    EXPECT_EQ(pool->packet_at_offset(1), nullptr);            // not a buffer start
    EXPECT_EQ(pool->packet_at_offset(stride + 64), nullptr);  // the data, not the buffer
    EXPECT_EQ(pool->packet_at_offset(~std::uint64_t{0}), nullptr);
  }
}

TEST(Mempool, FreeingTheHeadFreesTheWholeChain) {
  std::unique_ptr<Mempool> pool = make_pool(small_config(10));
  ASSERT_NE(pool, nullptr);
  MempoolCache cache(*pool, 2);
  for (MempoolCache* maybe_cache : {static_cast<MempoolCache*>(nullptr), &cache}) {
    std::array<Packet*, 4> segments{};
    ASSERT_EQ(pool->alloc_bulk(segments, maybe_cache), 4u);
    segments[0]->next = segments[1];
    segments[1]->next = segments[2];
    std::array<Packet*, 2> heads{segments[0], segments[3]};  // a 3-segment chain and a single packet
    pool->free_bulk(heads, maybe_cache);
    cache.flush();
    EXPECT_EQ(pool->available(), 10u);
  }
}

TEST(Mempool, FreeSkipsNullEntries) {
  std::unique_ptr<Mempool> pool = make_pool(small_config(4));
  ASSERT_NE(pool, nullptr);
  std::array<Packet*, 3> packets{};
  ASSERT_EQ(pool->alloc_bulk({packets.data(), 2}), 2u);
  packets[2] = packets[1];
  packets[1] = nullptr;  // e.g. a slot a driver left empty
  pool->free_bulk(packets);
  EXPECT_EQ(pool->available(), 4u);
}

// What a port's transmit path does with a forwarder's frames: those of its
// own pool go into its cache, any other pool's back to that pool.
TEST(Mempool, FreeToOwnersReturnsEachPacketToItsPoolAndCountsForeignOnes) {
  auto own = make_pool(small_config(64));
  auto other = make_pool(small_config(64));
  ASSERT_TRUE(own && other);
  std::array<Packet*, 4> mine{};
  std::array<Packet*, 2> theirs{};
  ASSERT_EQ(own->alloc_bulk(mine), 4u);
  ASSERT_EQ(other->alloc_bulk(theirs), 2u);
  MempoolCache cache(*own, 32);
  const std::array<Packet*, 7> mixed{mine[0], theirs[0], mine[1], nullptr, mine[2], theirs[1], mine[3]};
  EXPECT_EQ(free_to_owners(mixed, cache), 2u);
  EXPECT_EQ(other->available(), 64u) << "the other pool's buffers went straight back to its ring";
  EXPECT_EQ(cache.count(), 4u) << "our own went into the cache";
  EXPECT_EQ(own->available(), 60u);
  ASSERT_EQ(own->alloc_bulk(std::span(mine).first(1), &cache), 1u);
  EXPECT_EQ(free_to_owners(std::span(mine).first(1), cache), 0u) << "a shared pool: no foreign frees";
  EXPECT_EQ(cache.count(), 4u);
}

TEST(Mempool, UsesHugepagesWhenRequiredAndReserved) {
  std::ifstream file("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
  long long free_hugepages = 0;
  file >> free_hugepages;
  if (free_hugepages < 2) GTEST_SKIP() << "fewer than 2 free 2 MiB hugepages";
  MempoolConfig config = small_config(1000);  // 2.2 MB: two hugepages
  config.region.require_hugepages = true;
  std::unique_ptr<Mempool> pool = make_pool(config);
  ASSERT_NE(pool, nullptr);
  EXPECT_TRUE(pool->region().uses_hugepages());
  EXPECT_EQ(pool->region().length(), std::size_t{4} << 20);
}

}  // namespace
}  // namespace aether::mem
