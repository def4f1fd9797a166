// Microbenchmarks for aether::LatencyHistogram.
//
//   aether_bench_stats --benchmark_format=json
//
// record() is measured on pre-generated values (the RNG is not timed) with
// three value mixes: one repeated value (a dependent chain of increments on
// one counter, the store-forwarding bound), a lognormal latency mix (a few
// hundred hot buckets, the realistic case) and values spread over the whole
// uint64 range (every bucket, so the 58 KiB counter array competes for L1).
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "aether/stats/latency_histogram.hpp"

namespace {

using aether::LatencyHistogram;

// A power of two so the index wraps with a mask; 64 Ki values (512 KiB) is
// enough that the branch predictor cannot learn the sequence.
constexpr std::size_t kValueCount = std::size_t{1} << 16;

std::vector<std::uint64_t> lognormal_values(std::size_t count) {
  std::mt19937_64 random(42);
  // Median ~3 us with a tail into the milliseconds, like a loaded packet path.
  std::lognormal_distribution<double> latency(std::log(3000.0), 1.0);
  std::vector<std::uint64_t> values(count);
  for (auto& value : values) value = static_cast<std::uint64_t>(latency(random));
  return values;
}

std::vector<std::uint64_t> full_range_values(std::size_t count) {
  std::mt19937_64 random(43);
  std::vector<std::uint64_t> values(count);
  for (auto& value : values) value = random() >> (random() % 64);  // uniform over octaves
  return values;
}

void run_record(benchmark::State& state, const std::vector<std::uint64_t>& values) {
  LatencyHistogram histogram;
  const std::size_t mask = values.size() - 1;
  std::size_t next = 0;
  for (auto _ : state) {
    histogram.record(values[next++ & mask]);
  }
  benchmark::DoNotOptimize(histogram.count());
  benchmark::ClobberMemory();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_record_same_value(benchmark::State& state) {
  const std::vector<std::uint64_t> values(kValueCount, 2500);
  run_record(state, values);
}
BENCHMARK(BM_record_same_value);

void BM_record_lognormal(benchmark::State& state) {
  const std::vector<std::uint64_t> values = lognormal_values(kValueCount);
  run_record(state, values);
}
BENCHMARK(BM_record_lognormal);

void BM_record_full_range(benchmark::State& state) {
  const std::vector<std::uint64_t> values = full_range_values(kValueCount);
  run_record(state, values);
}
BENCHMARK(BM_record_full_range);

LatencyHistogram filled_histogram() {
  LatencyHistogram histogram;
  const std::vector<std::uint64_t> values = lognormal_values(1'000'000);
  for (std::uint64_t value : values) histogram.record(value);
  return histogram;
}

// Argument: the percentile in thousandths (50000 = p50, 99990 = p99.99).
void BM_percentile(benchmark::State& state) {
  const LatencyHistogram histogram = filled_histogram();
  const double p = static_cast<double>(state.range(0)) / 1000.0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(histogram.percentile(p));
  }
}
BENCHMARK(BM_percentile)->Arg(50'000)->Arg(99'000)->Arg(99'990);

void BM_summarize(benchmark::State& state) {
  const LatencyHistogram histogram = filled_histogram();
  for (auto _ : state) {
    benchmark::DoNotOptimize(aether::summarize(histogram));
  }
}
BENCHMARK(BM_summarize);

void BM_merge(benchmark::State& state) {
  const LatencyHistogram source = filled_histogram();
  LatencyHistogram destination;
  for (auto _ : state) {
    destination.merge(source);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(destination.count());
}
BENCHMARK(BM_merge);

void BM_to_json(benchmark::State& state) {
  const LatencyHistogram histogram = filled_histogram();
  for (auto _ : state) {
    benchmark::DoNotOptimize(histogram.to_json());
  }
}
BENCHMARK(BM_to_json);

}  // namespace

BENCHMARK_MAIN();
