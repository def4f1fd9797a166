#include "aether/measure/latency_rounds.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/measure/comparison.hpp"
#include "aether/measure/latency_vs_dpdk.hpp"

namespace aether::measure {
namespace {

const BackendLatency* measured_row(const LatencyBenchReport& report, const std::string& label) {
  for (const auto& row : report.backends) {
    if (latency_row_label(row, report.config) == label && row.error.empty() && row.generator.round_trip_ns.count() > 0) {
      return &row;
    }
  }
  return nullptr;
}

double percentile(const BackendLatency& row, double p) {
  return static_cast<double>(row.generator.round_trip_ns.percentile(p));
}

// One summary line: a row (or a ratio) under one scheduling, over the rounds.
struct SummaryLine {
  std::string sched;
  std::string what;  // a row label, or "generator / DPDK" style ratio names
  bool ratio = false;
  Spread p50, p999;
};

std::vector<SummaryLine> summarize(const LatencyRounds& rounds) {
  std::vector<SummaryLine> lines;
  std::vector<std::optional<int>> schedules;
  for (const auto& run : rounds.runs) {
    if (std::find(schedules.begin(), schedules.end(), run.fifo_priority) == schedules.end()) schedules.push_back(run.fifo_priority);
  }
  for (const auto& fifo : schedules) {
    std::vector<std::string> labels;
    for (const auto& run : rounds.runs) {
      if (run.fifo_priority != fifo) continue;
      for (const auto& row : run.report.backends) {
        const std::string label = latency_row_label(row, run.report.config);
        if (std::find(labels.begin(), labels.end(), label) == labels.end()) labels.push_back(label);
      }
    }
    for (const auto& label : labels) {
      std::vector<double> p50, p999;
      for (const auto& run : rounds.runs) {
        if (run.fifo_priority != fifo) continue;
        if (const BackendLatency* row = measured_row(run.report, label)) {
          p50.push_back(percentile(*row, 50));
          p999.push_back(percentile(*row, 99.9));
        }
      }
      lines.push_back({schedule_name(fifo), label, false, spread_of(p50), spread_of(p999)});
    }
    // Each of Aether's roles against DPDK in the same role, one ratio per round.
    for (const auto& [role, name] : {std::pair{"generator", memif_aether_to_testpmd}, std::pair{"responder", memif_dpdk_to_aether},
                                     std::pair{"both ends", "memif"}}) {
      std::vector<double> p50, p999;
      for (const auto& run : rounds.runs) {
        if (run.fifo_priority != fifo || !run.report.config.vs_dpdk) continue;
        const BackendLatency* aether = measured_row(run.report, name);
        const BackendLatency* dpdk = measured_row(run.report, memif_dpdk_to_testpmd);
        if (aether == nullptr || dpdk == nullptr || percentile(*dpdk, 50) <= 0 || percentile(*dpdk, 99.9) <= 0) continue;
        p50.push_back(percentile(*aether, 50) / percentile(*dpdk, 50));
        p999.push_back(percentile(*aether, 99.9) / percentile(*dpdk, 99.9));
      }
      if (!p50.empty()) {
        lines.push_back({schedule_name(fifo), fmt::format("{} / DPDK ({})", role, name), true, spread_of(p50), spread_of(p999)});
      }
    }
  }
  return lines;
}

}  // namespace

LatencyRounds run_latency_rounds(const LatencyBenchConfig& config, unsigned repeat, bool both_schedules,
                                 const Clock& clock, const std::atomic<bool>& stop, const ProgressFunction& progress) {
  LatencyRounds rounds;
  std::vector<std::optional<int>> schedules{config.fifo_priority};
  if (both_schedules) schedules = {std::nullopt, config.fifo_priority};
  for (unsigned round = 1; round <= std::max(1u, repeat) && !stop.load(std::memory_order_relaxed); ++round) {
    for (std::size_t s = 0; s < schedules.size() && !stop.load(std::memory_order_relaxed); ++s) {
      // The order flips every round: neither scheduling always runs first.
      const std::optional<int> fifo = schedules[round % 2 == 0 ? schedules.size() - 1 - s : s];
      if (progress) progress(fmt::format("round {} of {}, {}", round, repeat, schedule_name(fifo)));
      LatencyBenchConfig run_config = config;
      run_config.fifo_priority = fifo;
      rounds.runs.push_back({round, fifo, run_latency_bench(run_config, clock, stop, progress)});
    }
  }
  rounds.interrupted = stop.load(std::memory_order_relaxed);
  return rounds;
}

std::string format_latency_rounds(const LatencyRounds& rounds) {
  std::string out;
  for (const auto& run : rounds.runs) {
    out += fmt::format("=== round {}, {} ===\n{}\n", run.round, schedule_name(run.fifo_priority), format_latency_table(run.report));
  }
  out += "Over the rounds, median [min..max] of each row's round trip in ns (lower is better); for the ratios, Aether's\n"
         "figure over DPDK's in the same role and round (below 1: Aether lower):\n";
  constexpr auto line_format = "  {:<7} {:<44} {:<28} {:<28}\n";
  out += fmt::format(line_format, "sched", "row", "p50", "p99.9");
  for (const auto& line : summarize(rounds)) {
    const int decimals = line.ratio ? 2 : 0;
    out += fmt::format(line_format, line.sched, line.what, format_spread(line.p50, decimals), format_spread(line.p999, decimals));
  }
  if (rounds.interrupted) out += "interrupted: the summary covers the runs before Ctrl-C\n";
  return out;
}

nlohmann::json latency_rounds_to_json(const LatencyRounds& rounds) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& run : rounds.runs) {
    nlohmann::json entry = latency_report_to_json(run.report);
    entry["round"] = run.round;
    entry["sched"] = run.fifo_priority ? fmt::format("SCHED_FIFO {}", *run.fifo_priority) : "SCHED_OTHER";
    runs.push_back(std::move(entry));
  }
  nlohmann::json summary = nlohmann::json::array();
  for (const auto& line : summarize(rounds)) {
    summary.push_back({{"sched", line.sched}, {line.ratio ? "ratio" : "row", line.what},
                       {line.ratio ? "p50_aether_over_dpdk" : "p50_ns", spread_to_json(line.p50)},
                       {line.ratio ? "p99_9_aether_over_dpdk" : "p99_9_ns", spread_to_json(line.p999)}});
  }
  return {{"tool", "aether bench latency"}, {"runs", runs}, {"summary", summary}, {"interrupted", rounds.interrupted}};
}

}  // namespace aether::measure
