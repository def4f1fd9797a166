// `aether bench fwd`: what sharing one pool between two ports buys a
// forwarder, measured in one run against the copy path.
//
//   sender -> [link 1] -> in ==Forwarder==> out -> [link 2] -> sink
//
// The forwarder (dataplane::Forwarder, what `aether fwd` runs) is pinned to
// one CPU; the sender and the sink are two pollers of one worker on the
// other. Each run is measured twice in the same process, with `in` and
// `out` on one pool (the frame leaves `out` from the buffer it arrived in)
// and on a pool each (today's copy path: afxdp and memif copy every frame
// into `out`'s pool; afpacket frees it to the other pool's ring). Links:
// two veth pairs in throwaway namespaces (afxdp, afpacket; root), or two
// memif links in this process (memif; no privileges: `in` is link 1's
// server, `out` link 2's zero-copy client).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "aether/core/result.hpp"
#include "aether/dataplane/poller.hpp"
#include "aether/measure/latency_bench.hpp"

namespace aether::measure {

struct FwdBenchConfig {
  std::string kind = "afxdp";  // afxdp, afpacket or memif
  std::size_t frame_size = 64;  // bytes without FCS
  double seconds = 2.0;         // measured, per pool layout
  unsigned traffic_cpu = 0;     // sender and sink
  unsigned forwarder_cpu = 1;
  std::optional<int> fifo_priority;
};

struct FwdRun {
  bool shared_pool = false;
  std::string mode;   // the ports' negotiated modes
  std::string error;  // why this run has no figures
  double seconds = 0;
  std::uint64_t sent = 0;       // taken by the sender's tx_burst
  std::uint64_t forwarded = 0;  // taken by out's tx_burst from the forwarder
  std::uint64_t received = 0;   // arrived at the sink
  // Over the whole run (warm-up and drain included), read after the
  // forwarder stopped, so the ratio is exact: frames forwarded, and out's
  // tx_foreign_copies and tx_foreign_frees.
  std::uint64_t forwarded_total = 0;
  std::uint64_t copies = 0;
  std::uint64_t foreign_frees = 0;
  dataplane::WorkerStats forwarder_worker;
  [[nodiscard]] double forwarded_mpps() const noexcept {
    return seconds > 0 ? static_cast<double>(forwarded) / seconds / 1e6 : 0;
  }
  [[nodiscard]] double copies_per_forwarded_frame() const noexcept {
    return forwarded_total > 0 ? static_cast<double>(copies) / static_cast<double>(forwarded_total) : 0;
  }
};

struct FwdBenchReport {
  FwdBenchConfig config;
  std::vector<std::pair<std::string, std::string>> environment;
  std::vector<FwdRun> runs;  // shared pool, then a pool per port
  bool interrupted = false;
  // Shared-pool Mpps over pool-per-port Mpps, when both ran.
  [[nodiscard]] std::optional<double> shared_over_copy() const;
};

// The kinds run_fwd_bench can build links for.
[[nodiscard]] Result<void> check_fwd_bench_kind(const std::string& kind);

FwdBenchReport run_fwd_bench(const FwdBenchConfig& config, const std::atomic<bool>& stop,
                             const ProgressFunction& progress);
std::string format_fwd_table(const FwdBenchReport& report);
nlohmann::json fwd_report_to_json(const FwdBenchReport& report);

}  // namespace aether::measure
