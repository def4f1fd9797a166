// The OS-noise ("jitter") meter: how quiet is each core?
//
// In the spirit of sysjitter and rt-tests' oslat: one pinned thread per
// selected CPU spins reading the clock for a fixed window; every gap between
// two consecutive reads above a threshold is time the CPU was taken away
// (interrupt, timer tick, softirq, another task, the hypervisor) and goes
// into a LatencyHistogram. All threads measure the same window.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "aether/core/clock.hpp"
#include "aether/core/result.hpp"
#include "aether/stats/duration_format.hpp"
#include "aether/stats/latency_histogram.hpp"

namespace aether {

struct JitterConfig {
  std::vector<unsigned> cpus;                  // CPUs to measure; each must be online and allowed
  std::chrono::nanoseconds duration{std::chrono::seconds(10)};
  std::uint64_t threshold_ns = 1000;           // gaps above this count as interruptions
  std::optional<int> fifo_priority;            // SCHED_FIFO priority for the spinners, if set
  bool lock_memory = true;                     // mlockall before measuring (failure is a warning)
};

struct CpuJitter {
  unsigned cpu = 0;
  LatencyHistogram gaps;                // lengths of the gaps above the threshold, ns
  std::uint64_t measured_ns = 0;        // length of the window this thread spun for
  std::uint64_t stolen_ns = 0;          // sum of all gaps above the threshold
  std::uint64_t loop_iterations = 0;    // clock reads; measured_ns / iterations is the resolution
  std::uint64_t longest_gap_ns = 0;
  std::uint64_t longest_gap_offset_ns = 0;  // when the longest gap ended, from the window start

  [[nodiscard]] std::uint64_t interruptions() const noexcept { return gaps.count(); }
  [[nodiscard]] double interruptions_per_second() const noexcept;
  [[nodiscard]] double stolen_percent() const noexcept;
  [[nodiscard]] double loop_period_ns() const noexcept;
};

struct JitterReport {
  JitterConfig config;
  std::string clock_source;             // "tsc" or "monotonic_raw (reason)"
  double tsc_ghz = 0;
  std::int64_t window_start_unix_ns = 0;  // CLOCK_REALTIME at the window start
  std::vector<CpuJitter> cpus;
  std::vector<std::string> warnings;    // things that distort the figures (RT throttling, no mlock, ...)
  std::vector<std::string> environment; // idle driver, governor, ... as "key: value"
};

// Checks the configuration against this host: every CPU online and in the
// allowed set, a positive duration, a sane priority. The error names the CPU
// or value at fault and what is allowed.
Result<void> validate(const JitterConfig& config);

// Runs the measurement. Blocks the calling thread for about config.duration.
Result<JitterReport> measure_jitter(const JitterConfig& config, const Clock& clock);

// A table for people (one row per CPU) and a JSON document for machines.
std::string format_jitter_table(const JitterReport& report);
nlohmann::json jitter_to_json(const JitterReport& report);

}  // namespace aether
