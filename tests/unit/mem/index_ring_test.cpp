#include "aether/mem/index_ring.hpp"

#include <array>
#include <atomic>
#include <numeric>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace aether::mem {
namespace {

TEST(IndexRing, CapacityRoundsUpToAPowerOfTwo) {
  EXPECT_EQ(IndexRing(1).capacity(), 2u);  // at least 2 (see the next test)
  EXPECT_EQ(IndexRing(2).capacity(), 2u);
  EXPECT_EQ(IndexRing(5).capacity(), 8u);
  EXPECT_EQ(IndexRing(64).capacity(), 64u);
}

// Found by tests/fuzz/rings_fuzz.cpp: a one-slot ring took a second push
// over the first, then popped nothing (both indices lost).
TEST(IndexRing, TheSmallestRingLosesNothing) {
  IndexRing ring(1);
  const std::array<std::uint32_t, 4> values{1, 2, 3, 4};
  std::array<std::uint32_t, 4> out{};
  EXPECT_EQ(ring.push_bulk(std::span<const std::uint32_t>(values.data(), 1)), 1u);
  EXPECT_EQ(ring.push_bulk(std::span<const std::uint32_t>(values.data() + 1, 3)), ring.capacity() - 1);
  ASSERT_EQ(ring.pop_bulk(out), ring.capacity());
  EXPECT_EQ(out[0], 1u);
  EXPECT_EQ(out[1], 2u);
  EXPECT_EQ(ring.pop_bulk(out), 0u);
}

TEST(IndexRing, BulkPushAndPopAreFifoAndPartialAtTheLimits) {
  IndexRing ring(8);
  std::array<std::uint32_t, 10> values{};
  std::iota(values.begin(), values.end(), 100u);
  EXPECT_EQ(ring.push_bulk(values), 8u);  // only 8 fit
  EXPECT_EQ(ring.size(), 8u);
  EXPECT_EQ(ring.push_bulk(values), 0u);  // full

  std::array<std::uint32_t, 5> out{};
  ASSERT_EQ(ring.pop_bulk(out), 5u);
  EXPECT_EQ(out, (std::array<std::uint32_t, 5>{100, 101, 102, 103, 104}));
  ASSERT_EQ(ring.pop_bulk(out), 3u);  // only 3 left
  EXPECT_EQ(out[0], 105u);
  EXPECT_EQ(out[2], 107u);
  EXPECT_EQ(ring.pop_bulk(out), 0u);  // empty
  EXPECT_EQ(ring.size(), 0u);
  EXPECT_EQ(ring.push_bulk({}), 0u);
  EXPECT_EQ(ring.pop_bulk({}), 0u);
}

TEST(IndexRing, WrapsAroundManyLaps) {
  IndexRing ring(16);
  std::uint32_t next_in = 0;
  std::uint32_t next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    std::array<std::uint32_t, 11> batch{};
    std::iota(batch.begin(), batch.end(), next_in);
    ASSERT_EQ(ring.push_bulk(batch), batch.size());
    next_in += batch.size();
    std::array<std::uint32_t, 11> out{};
    ASSERT_EQ(ring.pop_bulk(out), out.size());
    for (std::uint32_t value : out) ASSERT_EQ(value, next_out++);
  }
}

// Two producers and two consumers move every value through the ring; at the
// end each value has been popped exactly once. Run under TSan in CI.
TEST(IndexRing, ConcurrentProducersAndConsumersLoseAndDuplicateNothing) {
  constexpr std::uint32_t kPerProducer = 50'000;
  constexpr int kProducers = 2;
  constexpr int kConsumers = 2;
  IndexRing ring(256);
  std::vector<std::atomic<std::uint8_t>> seen(kPerProducer * kProducers);
  std::atomic<std::uint32_t> consumed{0};

  std::vector<std::thread> threads;
  for (int producer = 0; producer < kProducers; ++producer) {
    threads.emplace_back([&ring, producer] {
      std::uint32_t next = producer * kPerProducer;
      const std::uint32_t end = next + kPerProducer;
      while (next < end) {
        std::array<std::uint32_t, 7> batch{};
        const std::uint32_t count = std::min<std::uint32_t>(batch.size(), end - next);
        std::iota(batch.begin(), batch.begin() + count, next);
        const unsigned pushed = ring.push_bulk({batch.data(), count});
        next += pushed;
        // Four threads share two cores here: let a preempted peer run.
        if (pushed == 0) std::this_thread::yield();
      }
    });
  }
  for (int consumer = 0; consumer < kConsumers; ++consumer) {
    threads.emplace_back([&] {
      std::array<std::uint32_t, 9> out{};
      // relaxed: the counter only decides when to stop; the values are
      // checked after join().
      while (consumed.load(std::memory_order_relaxed) < kPerProducer * kProducers) {
        const unsigned got = ring.pop_bulk(out);
        for (unsigned i = 0; i < got; ++i) seen[out[i]].fetch_add(1, std::memory_order_relaxed);
        consumed.fetch_add(got, std::memory_order_relaxed);
        if (got == 0) std::this_thread::yield();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(consumed.load(), kPerProducer * kProducers);
  EXPECT_EQ(ring.size(), 0u);
  for (std::size_t value = 0; value < seen.size(); ++value) {
    ASSERT_EQ(seen[value].load(), 1) << "value " << value;
  }
}

}  // namespace
}  // namespace aether::mem
