// What `aether feed handle` and `aether feed replay` share: the CPU of the
// worker, running one poller on it until a condition, a deadline or Ctrl-C,
// and a histogram of TSC ticks in words.
#pragma once

#include <functional>
#include <string>

#include "aether/core/clock.hpp"
#include "aether/core/result.hpp"
#include "aether/dataplane/poller.hpp"
#include "aether/net/port.hpp"
#include "aether/stats/latency_histogram.hpp"

namespace aether::cli {

struct FeedWorkerOptions {
  int cpu = -1;            // -1: the last allowed CPU
  int fifo_priority = 0;   // 0: SCHED_OTHER
  double seconds = 0;      // 0: no deadline
  std::string name;
};

// Runs `poller` on a pinned worker until `finished()` (checked every 10 ms
// from this thread), the deadline or Ctrl-C; then its statistics.
Result<dataplane::WorkerStats> run_feed_worker(const FeedWorkerOptions& options, dataplane::Poller& poller,
                                               const std::function<bool()>& finished);

// Waits up to `seconds` for `port`'s link to come up (a memif peer to
// connect, a veth end to be up); the Error names the port.
Result<void> wait_for_link(const net::Port& port, double seconds);

// "p50 1.2 us, p99 ..., p99.9, p99.99, max (N samples)" of a tick histogram.
std::string describe_ticks(const LatencyHistogram& ticks, const Clock& clock);

}  // namespace aether::cli
