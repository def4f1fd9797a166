// Market data: ITCH 5.0 decode and decode + full order book, ns/message over
// a generated trading day (docs/market-data.md).
//
//   aether_bench_feed --benchmark_format=json
//   AETHER_FEED_BENCH_MESSAGES=10000000 AETHER_FEED_BENCH_SYMBOLS=8000 aether_bench_feed
//
// The day (default 2M messages, 3000 symbols, seed 1) is generated once into
// memory as MoldUDP64 packets; each iteration runs the whole day through
// MoldUDP64 parsing, ITCH decoding and the book. The book is warmed by one
// untimed pass and cleared (capacity kept) between passes, so timed passes
// allocate nothing. Each packet is prefetched first (book_prefetch.hpp), as
// FeedHandler does; BM_decode_and_book/prefetch:0 shows the book without it.
// `*_per_packet` times every packet with the TSC and
// reports the distribution of ns/message per packet (p50 .. max), since a
// mean hides the tail the users judge by.
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "aether/core/clock.hpp"
#include "aether/feed/book_prefetch.hpp"
#include "aether/feed/day_generator.hpp"
#include "aether/feed/itch_decoder.hpp"
#include "aether/feed/order_book.hpp"
#include "aether/feed/reference_book.hpp"
#include "aether/stats/latency_histogram.hpp"

namespace {

using namespace aether::feed;

std::uint64_t environment_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr ? std::strtoull(text, nullptr, 10) : fallback;
}

struct Day {
  std::vector<std::byte> bytes;  // packets back to back
  std::vector<std::pair<std::size_t, std::size_t>> packets;  // offset, size
  std::uint64_t messages = 0;
};

const Day& day() {
  static const Day generated = [] {
    Day result;
    DayConfig config;
    config.messages = environment_number("AETHER_FEED_BENCH_MESSAGES", 2'000'000);
    config.symbols = static_cast<std::uint32_t>(environment_number("AETHER_FEED_BENCH_SYMBOLS", 3000));
    config.seed = environment_number("AETHER_FEED_BENCH_SEED", 1);
    const PacketSink sink = [&result](std::span<const std::byte> packet, std::uint64_t) -> aether::Result<void> {
      result.packets.emplace_back(result.bytes.size(), packet.size());
      result.bytes.insert(result.bytes.end(), packet.begin(), packet.end());
      return {};
    };
    auto stats = generate_day(config, sink);
    if (!stats) std::abort();
    result.messages = stats->messages;
    return result;
  }();
  return generated;
}

std::span<const std::byte> packet_at(const Day& source, std::size_t index) {
  const auto [offset, size] = source.packets[index];
  return std::span<const std::byte>(source.bytes).subspan(offset, size);
}

struct CountingHandler {
  std::uint64_t messages = 0;
  template <class T>
  void on(const T& message) noexcept {
    messages += message.header.stock_locate.value() != 0xFFFF;  // reads a field, so decoding is not optimised away
  }
};

// Runs the day through MoldUDP64 + ITCH into `handler`; with `prefetch_for`
// each packet is first prefetched for that book, as FeedHandler does.
template <class Handler>
void run_day(const Day& source, Handler& handler, DropCounters& drops, const OrderBook* prefetch_for = nullptr) {
  for (std::size_t index = 0; index < source.packets.size(); ++index) {
    if (prefetch_for != nullptr) prefetch_packet(*prefetch_for, packet_at(source, index));
    (void)mold::parse_packet(packet_at(source, index), drops,
                             [&](std::uint64_t, std::span<const std::byte> bytes) { decode_message(bytes, handler, drops); });
  }
}

// This thread's CPU time: on a shared machine the wall clock also counts the
// time other processes held the core; both are reported.
double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

struct Stopwatch {
  std::chrono::steady_clock::time_point wall_start = std::chrono::steady_clock::now();
  double cpu_start = thread_cpu_seconds();
  void add_to(double& wall, double& cpu) const {
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    cpu += thread_cpu_seconds() - cpu_start;
  }
};

void report(benchmark::State& state, const Day& source, double seconds, double cpu_seconds) {
  const double messages = static_cast<double>(source.messages) * static_cast<double>(state.iterations());
  state.counters["messages_per_day"] = static_cast<double>(source.messages);
  state.counters["ns_per_message"] = seconds * 1e9 / messages;
  state.counters["cpu_ns_per_message"] = cpu_seconds * 1e9 / messages;
  state.SetItemsProcessed(static_cast<std::int64_t>(messages));
}

void BM_decode(benchmark::State& state) {
  const Day& source = day();
  CountingHandler handler;
  DropCounters drops;
  double seconds = 0;
  double cpu_seconds = 0;
  for (auto _ : state) {
    const Stopwatch stopwatch;
    run_day(source, handler, drops);
    stopwatch.add_to(seconds, cpu_seconds);
  }
  benchmark::DoNotOptimize(handler.messages);
  report(state, source, seconds, cpu_seconds);
}
BENCHMARK(BM_decode)->Unit(benchmark::kMillisecond);

// state.range(0): 1 prefetches each packet first (what FeedHandler does), 0 does not.
void BM_decode_and_book(benchmark::State& state) {
  const Day& source = day();
  auto book = std::make_unique<OrderBook>(std::size_t{1} << 21);
  DropCounters drops;
  run_day(source, *book, drops);  // warm-up: the ladders grow to the day's depth
  double seconds = 0;
  double cpu_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    book->clear();
    state.ResumeTiming();
    const Stopwatch stopwatch;
    run_day(source, *book, drops, state.range(0) != 0 ? book.get() : nullptr);
    stopwatch.add_to(seconds, cpu_seconds);
  }
  benchmark::DoNotOptimize(book->order_count());
  report(state, source, seconds, cpu_seconds);
  state.counters["live_orders_at_close"] = static_cast<double>(book->order_count());
}
BENCHMARK(BM_decode_and_book)->Unit(benchmark::kMillisecond)->ArgName("prefetch")->Arg(1)->Arg(0);


void BM_decode_and_book_per_packet(benchmark::State& state) {
  const Day& source = day();
  const aether::Clock clock = aether::Clock::calibrate();
  auto book = std::make_unique<OrderBook>(std::size_t{1} << 21);
  DropCounters drops;
  run_day(source, *book, drops);
  aether::LatencyHistogram per_message_ps;  // picoseconds per message, per packet
  double seconds = 0;
  double cpu_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    book->clear();
    state.ResumeTiming();
    const Stopwatch stopwatch;
    for (std::size_t index = 0; index < source.packets.size(); ++index) {
      const std::uint64_t begin = aether::tsc_now();
      prefetch_packet(*book, packet_at(source, index));
      const auto info = mold::parse_packet(packet_at(source, index), drops, [&](std::uint64_t, std::span<const std::byte> bytes) {
        decode_message(bytes, *book, drops);
      });
      const std::uint64_t ticks = aether::tsc_now() - begin;
      if (info.messages_delivered > 0) per_message_ps.record(clock.to_ns(ticks * 1000) / info.messages_delivered);
    }
    stopwatch.add_to(seconds, cpu_seconds);
  }
  report(state, source, seconds, cpu_seconds);
  for (const auto& [name, percentile] : {std::pair{"p50_ns", 50.0}, {"p99_ns", 99.0}, {"p99.9_ns", 99.9}, {"p99.99_ns", 99.99}}) {
    state.counters[name] = static_cast<double>(per_message_ps.percentile(percentile)) / 1000;
  }
  state.counters["max_ns"] = static_cast<double>(per_message_ps.max()) / 1000;
}
BENCHMARK(BM_decode_and_book_per_packet)->Unit(benchmark::kMillisecond);

void BM_reference_book(benchmark::State& state) {
  const Day& source = day();
  DropCounters drops;
  double seconds = 0;
  double cpu_seconds = 0;
  for (auto _ : state) {
    auto book = std::make_unique<ReferenceBook>();
    const Stopwatch stopwatch;
    run_day(source, *book, drops);
    stopwatch.add_to(seconds, cpu_seconds);
    state.PauseTiming();
    book.reset();
    state.ResumeTiming();
  }
  report(state, source, seconds, cpu_seconds);
}
BENCHMARK(BM_reference_book)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
