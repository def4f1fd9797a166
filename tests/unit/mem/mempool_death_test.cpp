// Debug-build checks of the Mempool: double free and foreign pointers abort
// with a message naming the buffer and the pool.
#include "aether/mem/mempool.hpp"

#include <array>

#include <gtest/gtest.h>

namespace aether::mem {
namespace {

#ifdef NDEBUG
#define SKIP_IN_RELEASE() GTEST_SKIP() << "the checks exist only in debug builds (NDEBUG not defined)"
#else
#define SKIP_IN_RELEASE() (void)0
#endif

std::unique_ptr<Mempool> make_pool(const char* name) {
  MempoolConfig config;
  config.count = 16;
  config.name = name;
  config.region.use_hugepages = false;
  Result<std::unique_ptr<Mempool>> pool = Mempool::create(config);
  EXPECT_TRUE(pool.ok()) << pool.error().describe();
  return pool.ok() ? std::move(pool).value() : nullptr;
}

class MempoolDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // threadsafe: the child re-executes the binary instead of forking a
    // process that may hold other threads' locks (and works under TSan).
    GTEST_FLAG_SET(death_test_style, "threadsafe");
  }
};

TEST_F(MempoolDeathTest, DoubleFreeAbortsNamingBufferAndPool) {
  SKIP_IN_RELEASE();
  std::unique_ptr<Mempool> pool = make_pool("double-free-pool");
  ASSERT_NE(pool, nullptr);
  std::array<Packet*, 4> packets{};
  ASSERT_EQ(pool->alloc_bulk(packets), 4u);
  const std::uint32_t index = packets[2]->buffer_index;
  pool->free_bulk(packets);
  std::array<Packet*, 1> again{packets[2]};
  EXPECT_DEATH(pool->free_bulk(again),
               "mempool 'double-free-pool': double free \\(buffer " + std::to_string(index));
}

TEST_F(MempoolDeathTest, DoubleFreeThroughACacheAborts) {
  SKIP_IN_RELEASE();
  std::unique_ptr<Mempool> pool = make_pool("cached-pool");
  ASSERT_NE(pool, nullptr);
  std::array<Packet*, 2> packets{};
  EXPECT_DEATH(
      {
        MempoolCache cache(*pool, 8);
        if (pool->alloc_bulk(packets, &cache) != 2) return;
        pool->free_bulk(packets, &cache);
        pool->free_bulk(packets, &cache);  // still in the cache, still caught
      },
      "mempool 'cached-pool': double free");
}

TEST_F(MempoolDeathTest, DoubleFreeInsideOneCallAborts) {
  SKIP_IN_RELEASE();
  std::unique_ptr<Mempool> pool = make_pool("same-call-pool");
  ASSERT_NE(pool, nullptr);
  std::array<Packet*, 1> packet{};
  ASSERT_EQ(pool->alloc_bulk(packet), 1u);
  std::array<Packet*, 2> twice{packet[0], packet[0]};
  EXPECT_DEATH(pool->free_bulk(twice), "double free");
  pool->free_bulk(packet);
}

TEST_F(MempoolDeathTest, FreeingAPacketOfAnotherPoolAborts) {
  SKIP_IN_RELEASE();
  std::unique_ptr<Mempool> pool = make_pool("pool-a");
  std::unique_ptr<Mempool> other = make_pool("pool-b");
  ASSERT_NE(pool, nullptr);
  ASSERT_NE(other, nullptr);
  std::array<Packet*, 1> foreign{};
  ASSERT_EQ(other->alloc_bulk(foreign), 1u);
  EXPECT_DEATH(pool->free_bulk(foreign), "mempool 'pool-a': freeing 0x[0-9a-f]+, which is not a buffer of this pool");
  other->free_bulk(foreign);
}

TEST_F(MempoolDeathTest, FreeingAPointerThatIsNoBufferStartAborts) {
  SKIP_IN_RELEASE();
  std::unique_ptr<Mempool> pool = make_pool("pool-c");
  ASSERT_NE(pool, nullptr);
  alignas(64) static Packet on_the_side{};
  std::array<Packet*, 1> outside{&on_the_side};
  EXPECT_DEATH(pool->free_bulk(outside), "not a buffer of this pool");

  // Inside the region but in the middle of a buffer.
  auto* inside = reinterpret_cast<Packet*>(pool->region().base() + pool->buffer_stride() + 64);
  std::array<Packet*, 1> misaligned{inside};
  EXPECT_DEATH(pool->free_bulk(misaligned), "not a buffer of this pool");
}

TEST_F(MempoolDeathTest, CacheOfAnotherPoolAborts) {
  SKIP_IN_RELEASE();
  std::unique_ptr<Mempool> pool = make_pool("pool-d");
  std::unique_ptr<Mempool> other = make_pool("pool-e");
  ASSERT_NE(pool, nullptr);
  ASSERT_NE(other, nullptr);
  std::array<Packet*, 1> packet{};
  EXPECT_DEATH(
      {
        MempoolCache cache(*other, 8);
        (void)pool->alloc_bulk(packet, &cache);
      },
      "alloc_bulk with a MempoolCache of another pool");
}

TEST_F(MempoolDeathTest, PoolDestroyedBeforeItsCacheAborts) {
  SKIP_IN_RELEASE();
  EXPECT_DEATH(
      {
        std::unique_ptr<Mempool> pool = make_pool("short-lived");
        auto* leaked = new MempoolCache(*pool, 8);
        (void)leaked;
        pool.reset();
      },
      "mempool 'short-lived' destroyed while 1 MempoolCache");
}

}  // namespace
}  // namespace aether::mem
