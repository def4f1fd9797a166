// The measured window of a throughput-style bench, shared by `aether bench
// throughput` and `aether bench fwd`: the workers run, the first 10 % of
// the time warms up uncounted, then the counters are read at the start and
// the end of `seconds` (or of a stop request).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace aether::measure {

// Sleeps through the warm-up, calls `begin()` (read the counters), waits
// `seconds` or until `stop`, and returns the seconds actually measured; the
// caller reads the counters again right after.
template <class Begin>
double measured_window(double seconds, const std::atomic<bool>& stop, Begin begin) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds * 0.1));
  begin();
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       std::chrono::duration<double>(seconds));
  while (std::chrono::steady_clock::now() < end && !stop.load(std::memory_order_relaxed)) {
    // Ten wake-ups a second (for a stop request): this thread shares the
    // CPUs with the workers it measures.
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(100), end - std::chrono::steady_clock::now()));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace aether::measure
