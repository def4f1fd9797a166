// `aether bench throughput`: one core sends frames as fast as the path takes
// them, the other receives; Mpps and Gbit/s, sent against received.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "aether/core/result.hpp"
#include "aether/measure/cpu_accounting.hpp"
#include "aether/measure/latency_bench.hpp"

namespace aether::measure {

struct ThroughputBenchConfig {
  std::vector<BenchBackend> backends;
  std::vector<std::size_t> frame_sizes{64};  // bytes without FCS
  double seconds = 2.0;                      // per backend and size
  unsigned sender_cpu = 0;
  unsigned receiver_cpu = 1;
  std::optional<int> fifo_priority;  // every run SCHED_FIFO at this priority (unless both_schedules)
  // Each round runs every path and size under SCHED_OTHER, then under
  // SCHED_FIFO at fifo_priority (the order alternates between rounds).
  bool both_schedules = false;
  // Rounds: the whole set of runs this many times, alternating; the
  // summary gives the median and range over them (issue 12: >= 5).
  unsigned repeat = 1;
  std::uint64_t ring_messages = 0;  // > 0: also run the SPSC ring round trip as the floor line
  // After each memif run, the same size on the same CPUs with DPDK 22.11:
  // testpmd txonly into testpmd rxonly over memif (testpmd_process.hpp);
  // in even rounds DPDK runs first.
  bool vs_dpdk = false;
};

struct ThroughputResult {
  BenchBackend backend;
  std::size_t frame_size = 0;
  unsigned round = 1;                // 1..repeat
  std::optional<int> fifo_priority;  // this run's scheduling: none = SCHED_OTHER
  std::string mode;
  std::string error;
  double seconds = 0;
  std::uint64_t sent = 0;          // taken by the sender's tx_burst
  std::uint64_t refused = 0;       // offered, not taken (back-pressure)
  std::uint64_t received = 0;
  std::uint64_t received_bytes = 0;
  net::QueueStats sender_port;
  net::QueueStats receiver_port;
  dataplane::WorkerStats sender_worker;    // CPU time and context switches of each pinned worker
  dataplane::WorkerStats receiver_worker;
  // Every thread of this process and the two CPUs over the measured window.
  CpuAccounting cpu;
  std::optional<double> dpdk_mpps;  // vs_dpdk: testpmd's figure for this size
  std::optional<CpuAccounting> dpdk_cpu;  // vs_dpdk: both testpmd processes and this one
  std::string dpdk_error;           // vs_dpdk: why there is none
  [[nodiscard]] double sent_mpps() const noexcept { return seconds > 0 ? static_cast<double>(sent) / seconds / 1e6 : 0; }
  [[nodiscard]] double received_mpps() const noexcept {
    return seconds > 0 ? static_cast<double>(received) / seconds / 1e6 : 0;
  }
  [[nodiscard]] double received_gbps() const noexcept {
    return seconds > 0 ? static_cast<double>(received_bytes) * 8 / seconds / 1e9 : 0;
  }
};

struct ThroughputBenchReport {
  ThroughputBenchConfig config;
  std::vector<std::pair<std::string, std::string>> environment;
  std::optional<RingRoundTripResult> floor;
  std::vector<ThroughputResult> results;
  bool interrupted = false;
};

ThroughputBenchReport run_throughput_bench(const ThroughputBenchConfig& config, const std::atomic<bool>& stop,
                                           const ProgressFunction& progress);
std::string format_throughput_table(const ThroughputBenchReport& report);
// With repeat > 1 or both schedules: per schedule and size, the median and
// range of Aether's and DPDK's Mpps, of their same-run ratio, and of the
// share of its CPU each side's slower worker got.
std::string format_throughput_summary(const ThroughputBenchReport& report);
nlohmann::json throughput_report_to_json(const ThroughputBenchReport& report);

}  // namespace aether::measure
