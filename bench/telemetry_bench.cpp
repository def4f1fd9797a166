// Telemetry's two costs (issue 10, "Measures"):
//  - Scrape10kSeries: collecting and rendering 10,000 series (1,000 queues x
//    10 counters, read from live net::QueueCounters) into OpenMetrics text;
//    goal <= 2 ms.
//  - EchoRttScrapeOnVsOff: a running echo's round-trip p99.9 with a 10 Hz
//    scrape of its endpoint on and off, alternating in one run (phases
//    off,on,off,on,...); goal: p99.9 moves <= 1 %. The echo is Aether's
//    EchoResponder on a runtime worker over kernel UDP on 127.0.0.1 with
//    [telemetry] on, as `aether echo --metrics` runs it; the scraper is a
//    real HTTP client of the runtime's MetricsServer.
// Run: build/release/bench/aether_bench_telemetry --benchmark_format=json
#include <benchmark/benchmark.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "aether/core/thread_setup.hpp"
#include "aether/core/unique_fd.hpp"
#include "aether/runtime/runtime.hpp"
#include "aether/stats/latency_histogram.hpp"
#include "aether/telemetry/dataplane_metrics.hpp"
#include "aether/telemetry/metrics_server.hpp"
#include "aether/telemetry/scrape_client.hpp"

namespace {

using namespace aether;
using namespace std::chrono_literals;

void Scrape10kSeries(benchmark::State& state) {
  constexpr unsigned queues = 1000;  // x 10 aether_queue_* series each
  std::vector<net::QueueCounters> counters(queues);
  for (unsigned q = 0; q < queues; ++q) counters[q].rx_packets.add(q * 1000003ULL);
  std::vector<std::string> names(queues);
  for (unsigned q = 0; q < queues; ++q) names[q] = std::to_string(q);
  telemetry::MetricsRegistry registry;
  const auto source = registry.add([&](telemetry::MetricWriter& writer) {
    for (unsigned q = 0; q < queues; ++q) {
      telemetry::write_queue_stats(writer, "afxdp:ens1f0", names[q], counters[q].snapshot());
    }
  });
  telemetry::MetricWriter writer;
  std::string text;
  for (auto _ : state) {
    registry.scrape_text(writer, text, telemetry::ExpositionFormat::openmetrics);
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["series"] = static_cast<double>(writer.series());
  state.counters["bytes"] = static_cast<double>(text.size());
}
BENCHMARK(Scrape10kSeries)->Unit(benchmark::kMicrosecond);

std::uint16_t free_udp_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

void EchoRttScrapeOnVsOff(benchmark::State& state) {
  const auto phase = std::chrono::milliseconds(state.range(0));
  constexpr int phases = 10;  // alternating off, on, ...
  const std::uint16_t udp_port = free_udp_port();
  auto cpus = allowed_cpus();
  if (!cpus) {
    state.SkipWithError(cpus.error().describe().c_str());
    return;
  }
  // The echo as `aether echo --metrics` runs it: on the runtime, which
  // serves the port's and worker's series on its control thread.
  runtime::RuntimeConfig config;
  config.lock_memory = false;
  config.add_port("echo", fmt::format("udp:127.0.0.1:{}", udp_port));
  config.add_worker("bench-echo", cpus->back(), {"echo"});
  config.telemetry.listen = "127.0.0.1:0";
  auto rt = runtime::Runtime::create(std::move(config));
  if (!rt) {
    state.SkipWithError(rt.error().describe().c_str());
    return;
  }
  dataplane::EchoResponder echo((*rt)->port("echo").value()->queue(0), *(*rt)->pool_of_port("echo").value());
  if (auto added = (*rt)->add_poller("echo", echo); !added) {
    state.SkipWithError(added.error().describe().c_str());
    return;
  }
  const telemetry::SourceHandle echo_source = telemetry::add_echo((*rt)->metrics(), echo, "echo");
  const std::string address = (*rt)->metrics_address();
  // The runtime's control loop (scrapes answered there) on a thread of its
  // own; this thread is the client. It inherits this thread's affinity,
  // which create() moved off the worker's CPU.
  std::thread control([&] { (void)(*rt)->run(); });
  std::atomic<bool> stop{false};
  // The scraper: 10 Hz while `scraping`.
  std::atomic<bool> scraping{false};
  std::atomic<std::uint64_t> scrapes{0};
  std::thread scraper([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (scraping.load(std::memory_order_relaxed) && telemetry::http_get(address, "/metrics", 1s)) {
        scrapes.fetch_add(1, std::memory_order_relaxed);
      }
      std::this_thread::sleep_for(100ms);
    }
  });
  UniqueFd client(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(udp_port);
  target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::connect(client.get(), reinterpret_cast<sockaddr*>(&target), sizeof(target));
  timeval timeout{0, 100000};
  ::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::array<LatencyHistogram, 2> rtt;  // [0] scrape off, [1] scrape on
  std::uint64_t lost = 0;
  for (auto _ : state) {
    for (int p = 0; p < phases; ++p) {
      const bool on = (p % 2) == 1;
      scraping.store(on, std::memory_order_relaxed);
      const auto end = std::chrono::steady_clock::now() + phase;
      char payload[64] = {};
      while (std::chrono::steady_clock::now() < end) {
        const auto sent = std::chrono::steady_clock::now();
        if (::send(client.get(), payload, sizeof(payload), 0) != sizeof(payload) ||
            ::recv(client.get(), payload, sizeof(payload), 0) != sizeof(payload)) {
          ++lost;
          continue;
        }
        rtt[on ? 1 : 0].record(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - sent).count()));
      }
    }
  }
  scraping.store(false);
  stop.store(true);
  scraper.join();
  (*rt)->stop();
  control.join();
  const double off = static_cast<double>(rtt[0].percentile(99.9));
  const double on = static_cast<double>(rtt[1].percentile(99.9));
  state.counters["rtt_p999_off_ns"] = off;
  state.counters["rtt_p999_on_ns"] = on;
  state.counters["rtt_p50_off_ns"] = static_cast<double>(rtt[0].percentile(50));
  state.counters["rtt_p50_on_ns"] = static_cast<double>(rtt[1].percentile(50));
  state.counters["p999_change_percent"] = off > 0 ? 100.0 * (on - off) / off : 0;
  state.counters["samples_off"] = static_cast<double>(rtt[0].count());
  state.counters["samples_on"] = static_cast<double>(rtt[1].count());
  state.counters["scrapes"] = static_cast<double>(scrapes.load());
  state.counters["lost"] = static_cast<double>(lost);
}
// Argument: milliseconds per phase (10 phases).
BENCHMARK(EchoRttScrapeOnVsOff)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
