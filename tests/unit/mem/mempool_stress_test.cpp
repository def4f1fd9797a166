// Concurrency stress: threads allocate and free at the same time, each
// through its own MempoolCache (or straight from the ring), and at the end
// every buffer is back in the pool exactly once. Meant to run under TSan.
#include "aether/mem/mempool.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace aether::mem {
namespace {

constexpr std::uint32_t kBuffers = 512;
constexpr int kThreads = 2;
constexpr int kRoundsPerThread = 100'000;  // each round is one alloc_bulk and one free_bulk

// xorshift32 (Marsaglia 2003): cheap deterministic burst sizes per thread.
std::uint32_t next_random(std::uint32_t& state) {
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

// One worker: allocates bursts of 1..32, tags each buffer with its id,
// keeps up to 64 held, frees bursts of them, and checks that no buffer it
// holds was touched by anybody else meanwhile.
void work(Mempool& pool, std::uint32_t cache_size, std::uint64_t thread_id, int& errors) {
  std::optional<MempoolCache> cache;
  if (cache_size != 0) cache.emplace(pool, cache_size);
  MempoolCache* const cache_pointer = cache ? &*cache : nullptr;
  std::array<Packet*, 96> held{};
  std::size_t held_count = 0;
  std::uint32_t random = 0x9E3779B9u * static_cast<std::uint32_t>(thread_id + 1);
  for (int round = 0; round < kRoundsPerThread; ++round) {
    const std::size_t want = std::min<std::size_t>(1 + next_random(random) % 32, held.size() - held_count);
    const unsigned got = pool.alloc_bulk({held.data() + held_count, want}, cache_pointer);
    for (unsigned i = 0; i < got; ++i) {
      Packet* packet = held[held_count + i];
      if (packet->length() != 0 || packet->next != nullptr) ++errors;
      packet->user_data = thread_id;
      *packet->append(1) = static_cast<std::byte>(thread_id);
    }
    held_count += got;

    const std::size_t release = held_count > 64 ? held_count - 64 + next_random(random) % 64
                                                : next_random(random) % (held_count + 1);
    const std::size_t first = held_count - release;
    for (std::size_t i = first; i < held_count; ++i) {
      if (held[i]->user_data != thread_id || *held[i]->data() != static_cast<std::byte>(thread_id)) ++errors;
    }
    pool.free_bulk({held.data() + first, release}, cache_pointer);
    held_count = first;
  }
  pool.free_bulk({held.data(), held_count}, cache_pointer);
}  // the cache returns its buffers here

void expect_every_buffer_back_once(Mempool& pool) {
  EXPECT_EQ(pool.available(), pool.capacity());
  std::vector<Packet*> all(kBuffers + 1);
  ASSERT_EQ(pool.alloc_bulk(all), kBuffers);
  std::vector<int> seen(kBuffers, 0);
  for (std::uint32_t i = 0; i < kBuffers; ++i) ++seen[all[i]->buffer_index];
  for (std::uint32_t index = 0; index < kBuffers; ++index) ASSERT_EQ(seen[index], 1) << "buffer " << index;
  pool.free_bulk({all.data(), kBuffers});
}

void run_stress(std::uint32_t cache_size) {
  MempoolConfig config;
  config.count = kBuffers;
  config.name = "stress-pool";
  config.region.use_hugepages = false;
  Result<std::unique_ptr<Mempool>> created = Mempool::create(config);
  ASSERT_TRUE(created.ok()) << created.error().describe();
  Mempool& pool = **created;

  std::array<int, kThreads> errors{};
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kThreads; ++thread) {
    threads.emplace_back(work, std::ref(pool), cache_size, static_cast<std::uint64_t>(thread + 1),
                         std::ref(errors[thread]));
  }
  for (std::thread& thread : threads) thread.join();
  for (int thread = 0; thread < kThreads; ++thread) EXPECT_EQ(errors[thread], 0) << "thread " << thread;
  expect_every_buffer_back_once(pool);
}

TEST(MempoolStress, ThreadsWithTheirOwnCaches) { run_stress(/*cache_size=*/32); }

TEST(MempoolStress, ThreadsOnTheSharedRingOnly) { run_stress(/*cache_size=*/0); }

}  // namespace
}  // namespace aether::mem
