// `aether bench latency --repeat N --sched other|fifo|both`: the whole
// latency bench N times, SCHED_OTHER and SCHED_FIFO runs alternating within
// each round (the order flips every round), and per scheduling and row the
// median and range of p50 and p99.9 over the rounds; with --vs-dpdk also
// of each same-round "Aether's role against DPDK" ratio (issue 12: goals
// are judged on the median of >= 5 alternating runs in both modes).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "aether/core/clock.hpp"
#include "aether/measure/latency_bench.hpp"

namespace aether::measure {

struct LatencyRun {
  unsigned round = 1;
  std::optional<int> fifo_priority;  // none: SCHED_OTHER
  LatencyBenchReport report;
};

struct LatencyRounds {
  std::vector<LatencyRun> runs;
  bool interrupted = false;
};

// `config.fifo_priority` is the SCHED_FIFO runs' priority; with
// `both_schedules` every round also runs under SCHED_OTHER.
LatencyRounds run_latency_rounds(const LatencyBenchConfig& config, unsigned repeat, bool both_schedules,
                                 const Clock& clock, const std::atomic<bool>& stop, const ProgressFunction& progress);

// Every run's table, then the summary.
std::string format_latency_rounds(const LatencyRounds& rounds);
// {"runs": [each run's latency_report_to_json, with round and sched], "summary": [...]}.
nlohmann::json latency_rounds_to_json(const LatencyRounds& rounds);

}  // namespace aether::measure
