// Cost of reading the clocks and converting ticks, per call.
//
//   aether_bench_core [--benchmark_format=json] [--benchmark_repetitions=N]
//
// The calibrated clock source and TSC rate are in the output's context
// ("clock_source", "tsc_ghz"). The benchmark thread is pinned to the last
// allowed CPU first (STYLE.md convention 11), so that the TSC reads all come
// from one core.
#include <cstdint>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "aether/core/clock.hpp"
#include "aether/core/thread_setup.hpp"

namespace {

using aether::Clock;

const Clock& bench_clock() {
  static const Clock clock = Clock::calibrate(std::chrono::milliseconds(200));
  return clock;
}

void tsc_now_read(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(aether::tsc_now());
}
BENCHMARK(tsc_now_read);

void tsc_now_ordered_read(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(aether::tsc_now_ordered());
}
BENCHMARK(tsc_now_ordered_read);

#if defined(__x86_64__)
// Bare rdtsc without the lfence, for comparison: what the fence costs.
void rdtsc_unfenced_read(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(__rdtsc());
}
BENCHMARK(rdtsc_unfenced_read);
#endif

void monotonic_raw_ns_read(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(aether::monotonic_raw_ns());
}
BENCHMARK(monotonic_raw_ns_read);

// Clock::now() branches on the source per call; the policies do not.
void clock_now_read(benchmark::State& state) {
  const Clock& clock = bench_clock();
  for (auto _ : state) benchmark::DoNotOptimize(clock.now());
}
BENCHMARK(clock_now_read);

void clock_to_ns(benchmark::State& state) {
  const Clock& clock = bench_clock();
  std::uint64_t ticks = 60ull * 3'000'000'000ull;  // about a minute of ticks
  for (auto _ : state) {
    benchmark::DoNotOptimize(clock.to_ns(ticks));
    ++ticks;  // a new input each time, so the conversion cannot be hoisted
  }
}
BENCHMARK(clock_to_ns);

void clock_to_monotonic_ns(benchmark::State& state) {
  const Clock& clock = bench_clock();
  std::uint64_t stamp = clock.now();
  for (auto _ : state) {
    benchmark::DoNotOptimize(clock.to_monotonic_ns(stamp));
    ++stamp;
  }
}
BENCHMARK(clock_to_monotonic_ns);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  if (auto cpus = aether::allowed_cpus(); cpus && !cpus->empty()) {
    if (auto pinned = aether::pin_current_thread(cpus->back()); pinned) {
      benchmark::AddCustomContext("pinned_cpu", fmt::format("{}", cpus->back()));
    } else {
      fmt::print(stderr, "core_bench: running unpinned: {}\n", pinned.error().describe());
    }
  }
  const Clock& clock = bench_clock();
  benchmark::AddCustomContext("clock_source", aether::to_string(clock.source()));
  benchmark::AddCustomContext("tsc_ghz", fmt::format("{:.6f}", clock.tsc_ghz()));
  if (!clock.fallback_reason().empty()) benchmark::AddCustomContext("clock_fallback_reason", clock.fallback_reason());

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
