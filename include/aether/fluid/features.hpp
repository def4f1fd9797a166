// The feature vector of one interval of a watched application: what the
// fluid telemetry counted (syscalls by class, user page faults, context
// switches, run-queue wait, softirq time) and the PMU figures when the
// hardware has them. Counts are per interval; rates are derived by readers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "aether/fluid/syscall_class.hpp"

namespace aether::fluid {

// Cumulative counts since the program was loaded, summed over CPUs.
struct CounterSnapshot {
  std::array<std::uint64_t, syscall_class_count> syscalls{};  // indexed by SyscallClass
  std::uint64_t user_page_faults = 0;
  std::uint64_t voluntary_switches = 0;
  std::uint64_t involuntary_switches = 0;
  std::uint64_t runqueue_wait_ns = 0;
  std::uint64_t runqueue_waits = 0;
  std::uint64_t softirq_ns = 0;
};

// Hardware counters: present only where perf_event_open gave them.
struct PmuFigures {
  std::optional<double> instructions_per_cycle;
  std::optional<std::uint64_t> llc_misses;
  std::string unavailable_reason;  // non-empty when the figures are absent
};

struct FeatureVector {
  std::uint64_t interval_index = 0;
  std::uint64_t interval_ns = 0;  // measured length of this interval
  std::uint64_t watched_tgids = 0;
  std::uint64_t watched_cpus = 0;
  CounterSnapshot counts;  // this interval's counts (a difference of snapshots)
  // On-CPU time (user + system) of the watched processes in the interval, from
  // /proc/PID/stat: clock-tick resolution (10 ms at USER_HZ 100), all threads.
  std::uint64_t cpu_ns = 0;
  PmuFigures pmu;

  [[nodiscard]] std::uint64_t total_syscalls() const noexcept;
  // Mean wait between becoming runnable and running, in ns; 0 with no waits.
  [[nodiscard]] double mean_runqueue_wait_ns() const noexcept;
  // On-CPU time in CPUs: 1.0 is one CPU busy for the whole interval.
  [[nodiscard]] double cpu_share() const noexcept;
  // softirq time as a share of the watched CPUs' time in the interval (0..1).
  [[nodiscard]] double softirq_share() const noexcept;
};

// `after - before`, field by field.
[[nodiscard]] CounterSnapshot difference(const CounterSnapshot& after, const CounterSnapshot& before) noexcept;

[[nodiscard]] nlohmann::json to_json(const FeatureVector& features);

// One human line: "#3 100ms tgids=1 sys io=.. net=.. mem=.. sync=.. other=.. pf=.. csw v/i=../.. rq=..us sirq=..% pmu: unavailable".
[[nodiscard]] std::string format_feature_line(const FeatureVector& features);

}  // namespace aether::fluid
