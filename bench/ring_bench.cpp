// SpscRing microbenchmarks: the round trip between two pinned cores (the
// inter-core floor, see ring/round_trip.hpp), the bare cache-line round trip
// it is built on, and single-thread push/pop cost.
//
// Usage: aether_bench_ring [--initiator_cpu=N] [--responder_cpu=M]
//                          [--round_trip_messages=K] [Google Benchmark flags]
// CPUs default to the first two this process may run on. JSON output:
// --benchmark_format=json (or --benchmark_out=FILE --benchmark_out_format=json).
//
// BM_RingRoundTrip runs measure_ring_round_trip() once per repetition and
// reports, as counters, the histogram of that run: mean_ns, p50_ns, p99_ns,
// p99.9_ns, p99.99_ns, max_ns (nanoseconds per round trip) and
// items_per_second (round trips per second). Its "Time" column is the manual
// wall time of all K recorded round trips, not of one. BM_CacheLinePingPong
// reports the same counters for one bare cache line bouncing between the CPUs.
#include <array>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "aether/core/clock.hpp"
#include "aether/core/thread_setup.hpp"
#include "aether/ring/round_trip.hpp"
#include "aether/ring/spsc_ring.hpp"
#include "aether/stats/latency_histogram.hpp"

namespace {

struct BenchOptions {
  unsigned initiator_cpu = 0;
  unsigned responder_cpu = 1;
  std::uint64_t round_trip_messages = 1'000'000;
  bool have_two_cpus = true;
};

BenchOptions options;

// Round-trip latency counters, in nanoseconds, from one run's histogram.
void report_latency(benchmark::State& state, const aether::LatencyHistogram& histogram) {
  state.counters["mean_ns"] = histogram.mean();
  state.counters["p50_ns"] = static_cast<double>(histogram.percentile(50));
  state.counters["p99_ns"] = static_cast<double>(histogram.percentile(99));
  state.counters["p99.9_ns"] = static_cast<double>(histogram.percentile(99.9));
  state.counters["p99.99_ns"] = static_cast<double>(histogram.percentile(99.99));
  state.counters["max_ns"] = static_cast<double>(histogram.max());
}

void BM_RingRoundTrip(benchmark::State& state) {
  if (!options.have_two_cpus) {
    state.SkipWithError("needs two allowed CPUs");
    return;
  }
  const aether::RingRoundTripConfig config{.initiator_cpu = options.initiator_cpu,
                                           .responder_cpu = options.responder_cpu,
                                           .messages = options.round_trip_messages,
                                           .message_size = static_cast<std::size_t>(state.range(0))};
  for (auto _ : state) {
    auto result = aether::measure_ring_round_trip(config);
    if (!result) {
      state.SkipWithError(result.error().describe().c_str());
      return;
    }
    state.SetIterationTime(static_cast<double>(result->elapsed_ns) * 1e-9);
    report_latency(state, result->round_trip_ns);
    state.counters["initiator_cpu"] = result->initiator_cpu;
    state.counters["responder_cpu"] = result->responder_cpu;
    state.SetItemsProcessed(static_cast<std::int64_t>(result->messages));
  }
}
// One measurement per repetition: the run is long enough to be its own
// average, and the percentiles belong to one histogram.
BENCHMARK(BM_RingRoundTrip)->ArgName("message_bytes")->Arg(16)->Arg(64)->Arg(256)->Arg(1024)
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

// Reference for the line above: the bare hardware round trip of one cache
// line. Each thread owns one atomic on its own line; the initiator writes n,
// the responder spins until it sees n and writes n back on its line: one
// line transfer each way, the least any inter-core handover can cost. The
// ring adds its slot and index lines on top. Timed like the ring (TSC per
// round trip, converted once), without the ring's warm-up or pre-faulting.
void BM_CacheLinePingPong(benchmark::State& state) {
  if (!options.have_two_cpus || options.initiator_cpu == options.responder_cpu) {
    state.SkipWithError("needs two different CPUs");
    return;
  }
  struct alignas(aether::cache_line_size) Line {
    std::atomic<std::uint64_t> value{0};
  };
  const std::uint64_t round_trips = options.round_trip_messages;
  const aether::Clock clock = aether::Clock::calibrate();
  if (clock.source() != aether::ClockSource::tsc) {
    state.SkipWithError(("needs the TSC: " + clock.fallback_reason()).c_str());
    return;
  }
  for (auto _ : state) {
    Line ping;
    Line pong;
    aether::Result<void> responder_pinned;
    aether::Result<void> initiator_pinned;
    std::thread responder([&] {
      responder_pinned = aether::pin_current_thread(options.responder_cpu);
      // Runs even if pinning failed, so that the initiator is never left waiting.
      for (std::uint64_t n = 1; n <= round_trips; ++n) {
        // Acquire/release pair with the initiator's; the value is the message.
        while (ping.value.load(std::memory_order_acquire) != n) {
        }
        pong.value.store(n, std::memory_order_release);
      }
    });
    std::vector<std::uint64_t> ticks;
    std::uint64_t elapsed_ticks = 0;
    std::thread initiator([&] {  // a thread of its own: the caller's affinity stays as it was
      initiator_pinned = aether::pin_current_thread(options.initiator_cpu);
      ticks.assign(round_trips, 0);  // after pinning; writing faults the pages in
      const std::uint64_t start = aether::tsc_now();
      for (std::uint64_t n = 1; n <= round_trips; ++n) {
        const std::uint64_t sent = aether::tsc_now();  // the same fences as measure_ring_round_trip
        ping.value.store(n, std::memory_order_release);
        while (pong.value.load(std::memory_order_acquire) != n) {
        }
        ticks[n - 1] = aether::tsc_now_ordered() - sent;
      }
      elapsed_ticks = aether::tsc_now_ordered() - start;
    });
    initiator.join();
    responder.join();
    for (const auto* pinned : {&initiator_pinned, &responder_pinned}) {
      if (!*pinned) {
        state.SkipWithError(pinned->error().describe().c_str());
        return;
      }
    }
    aether::LatencyHistogram histogram;
    for (const std::uint64_t sample : ticks) histogram.record(clock.to_ns(sample));
    state.SetIterationTime(static_cast<double>(clock.to_ns(elapsed_ticks)) * 1e-9);
    report_latency(state, histogram);
    state.counters["initiator_cpu"] = options.initiator_cpu;
    state.counters["responder_cpu"] = options.responder_cpu;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(round_trips));
}
BENCHMARK(BM_CacheLinePingPong)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

struct Message64 {
  std::uint64_t sequence;
  std::uint64_t stamp;
  std::array<std::byte, 48> payload;
};
static_assert(sizeof(Message64) == 64);

// Rings for the single-thread benchmarks: large enough that no batch below fills one.
constexpr std::size_t single_thread_capacity = 1024;

// One push and one pop per iteration on the same thread: the instruction
// cost of the ring with every line already in L1 (no inter-core traffic).
template <class T>
void BM_RingPushPop(benchmark::State& state) {
  auto created = aether::SpscRing<T>::create(single_thread_capacity);
  if (!created) {
    state.SkipWithError(created.error().describe().c_str());
    return;
  }
  aether::SpscRing<T>& ring = created.value();
  T item{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring.try_push(item));
    benchmark::DoNotOptimize(ring.try_pop(item));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(sizeof(T)));
}
BENCHMARK(BM_RingPushPop<std::uint64_t>);
BENCHMARK(BM_RingPushPop<Message64>);

// push_bulk then pop_bulk of `batch` items per iteration: the amortised cost
// per item when the index stores happen once per batch.
template <class T>
void BM_RingPushPopBulk(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  auto created = aether::SpscRing<T>::create(single_thread_capacity);
  if (!created) {
    state.SkipWithError(created.error().describe().c_str());
    return;
  }
  aether::SpscRing<T>& ring = created.value();
  std::vector<T> items(batch);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring.push_bulk(items));
    benchmark::DoNotOptimize(ring.pop_bulk(items));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(batch * sizeof(T)));
}
BENCHMARK(BM_RingPushPopBulk<std::uint64_t>)->ArgName("batch")->Arg(8)->Arg(32)->Arg(256);
BENCHMARK(BM_RingPushPopBulk<Message64>)->ArgName("batch")->Arg(8)->Arg(32)->Arg(256);

// Parses "--name=value" into `value`; returns false if `argument` is not that flag.
template <class Number>
bool parse_flag(std::string_view argument, std::string_view name, Number& value) {
  if (!argument.starts_with("--") || argument.substr(2, name.size()) != name ||
      argument.substr(2 + name.size(), 1) != "=") {
    return false;
  }
  const std::string_view text = argument.substr(3 + name.size());
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    std::fprintf(stderr, "aether_bench_ring: bad value in %.*s\n", static_cast<int>(argument.size()), argument.data());
    std::exit(2);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // Default CPUs: the first two this process may run on.
  const auto cpus = aether::allowed_cpus();
  options.have_two_cpus = cpus && cpus->size() >= 2;
  if (options.have_two_cpus) {
    options.initiator_cpu = (*cpus)[0];
    options.responder_cpu = (*cpus)[1];
  }

  // Take our flags out of argv before Google Benchmark sees it.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (parse_flag(argument, "initiator_cpu", options.initiator_cpu) ||
        parse_flag(argument, "responder_cpu", options.responder_cpu)) {
      options.have_two_cpus = true;  // explicit CPUs: measure_ring_round_trip judges them
    } else if (!parse_flag(argument, "round_trip_messages", options.round_trip_messages)) {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("ring_round_trip_cpus",
                              std::to_string(options.initiator_cpu) + "," + std::to_string(options.responder_cpu));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
