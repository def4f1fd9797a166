// Mempool microbenchmarks: a burst of 32 buffers allocated and freed, the
// rx/tx pattern of a forwarding worker, with and without a per-core cache.
//
//   aether_bench_mem --benchmark_format=json --benchmark_out=mem.json
//
// The 2-thread variants share one pool and show the cost of contention on
// the shared ring (each thread has its own cache where one is used).
#include <array>
#include <memory>
#include <optional>

#include <benchmark/benchmark.h>

#include "aether/core/log.hpp"
#include "aether/mem/mempool.hpp"

namespace {

using aether::mem::Mempool;
using aether::mem::MempoolCache;
using aether::mem::Packet;

constexpr std::size_t kBurst = 32;

// One pool for the whole process, created before the first benchmark runs
// (and so before any timing): region creation is the control path.
Mempool& shared_pool() {
  static std::unique_ptr<Mempool> pool = [] {
    aether::mem::MempoolConfig config;
    config.count = 8192;
    config.name = "bench-pool";
    auto created = Mempool::create(config);
    if (!created.ok()) {
      aether::log::error("{}", created.error().describe());
      std::abort();
    }
    return std::move(created).value();
  }();
  return *pool;
}

void alloc_free_burst(benchmark::State& state, bool with_cache) {
  Mempool& pool = shared_pool();
  std::optional<MempoolCache> cache;
  if (with_cache) cache.emplace(pool);
  MempoolCache* const cache_pointer = cache ? &*cache : nullptr;
  std::array<Packet*, kBurst> packets{};
  std::int64_t short_bursts = 0;
  std::int64_t buffers = 0;
  for (auto _ : state) {
    const unsigned got = pool.alloc_bulk(packets, cache_pointer);
    benchmark::DoNotOptimize(packets.data());
    // The pool never runs dry here; a short burst means another thread was
    // preempted between claiming and publishing ring slots (see
    // index_ring.hpp). Counted, not hidden.
    short_bursts += got != kBurst;
    buffers += got;
    pool.free_bulk({packets.data(), got}, cache_pointer);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(buffers);
  state.counters["short_bursts"] = static_cast<double>(short_bursts);
}

void BM_AllocFree32_WithCache(benchmark::State& state) { alloc_free_burst(state, /*with_cache=*/true); }
void BM_AllocFree32_NoCache(benchmark::State& state) { alloc_free_burst(state, /*with_cache=*/false); }

BENCHMARK(BM_AllocFree32_WithCache);
BENCHMARK(BM_AllocFree32_NoCache);
BENCHMARK(BM_AllocFree32_WithCache)->Threads(2)->UseRealTime();
BENCHMARK(BM_AllocFree32_NoCache)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
