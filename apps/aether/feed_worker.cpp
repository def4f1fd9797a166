#include "feed_worker.hpp"

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "aether/core/thread_setup.hpp"
#include "aether/stats/duration_format.hpp"
#include "aether/runtime/stop_signal.hpp"

namespace aether::cli {

Result<dataplane::WorkerStats> run_feed_worker(const FeedWorkerOptions& options, dataplane::Poller& poller,
                                               const std::function<bool()>& finished) {
  unsigned cpu = 0;
  if (options.cpu >= 0) {
    cpu = static_cast<unsigned>(options.cpu);
  } else {
    auto allowed = allowed_cpus();
    if (!allowed) return std::move(allowed).error();
    cpu = allowed->back();
  }
  dataplane::WorkerOptions worker_options{cpu, std::nullopt, options.name};
  if (options.fifo_priority > 0) worker_options.fifo_priority = options.fifo_priority;
  worker_options.idle_loops_before_sleep = 0;  // busy-poll: the latency is the point
  auto worker = dataplane::Worker::start(worker_options, {&poller});
  if (!worker) return std::move(worker).error();
  fmt::print(stderr, "{}: polling on CPU {} (Ctrl-C to stop)\n", options.name, cpu);
  const auto& interrupted = runtime::install_stop_signals();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options.seconds);
  while (!interrupted.load(std::memory_order_relaxed) && !finished() &&
         (options.seconds <= 0 || std::chrono::steady_clock::now() < deadline)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return (*worker)->join();
}

Result<void> wait_for_link(const net::Port& port, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  bool said = false;
  while (port.link_state() != net::LinkState::up) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{std::make_error_code(std::errc::timed_out),
                   fmt::format("port {}: link not up after {} s (is the peer there?)", port.info().spec, seconds)};
    }
    if (!said) fmt::print(stderr, "port {}: waiting for the link (the peer)\n", port.info().spec);
    said = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {};
}

std::string describe_ticks(const LatencyHistogram& ticks, const Clock& clock) {
  if (ticks.count() == 0) return "no samples";
  const auto ns = [&](double p) { return format_duration_ns(clock.to_ns(ticks.percentile(p))); };
  return fmt::format("p50 {}, p99 {}, p99.9 {}, p99.99 {}, max {} ({} samples)", ns(50), ns(99), ns(99.9), ns(99.99),
                     format_duration_ns(clock.to_ns(ticks.max())), ticks.count());
}

}  // namespace aether::cli
