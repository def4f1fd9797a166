// `aether bench latency --vs-dpdk`: the memif round trip with DPDK 22.11
// (Debian's dpdk-dev) in each role, on the bench's two CPUs, in the same run
// as Aether's own memif row:
//   "memif aether>testpmd"  Aether's generator; testpmd (macswap) answers
//   "memif dpdk>aether"     aether-dpdk-pinger generates; Aether's echo answers
//   "memif dpdk>testpmd"    DPDK on both ends: the baseline for both roles
// The pinger (apps/dpdk_pinger) measures as Aether's generator does: the
// same probe payload, round trips from when each probe was due, closed loop
// at --rate 0. A DPDK peer that fails or crashes is a row with its error
// (how it died), never the end of the bench.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "aether/core/clock.hpp"
#include "aether/core/result.hpp"
#include "aether/measure/latency_bench.hpp"

namespace aether::measure {

// The row names, also the keys of the "against DPDK" comparison.
inline constexpr const char* memif_aether_to_testpmd = "memif aether>testpmd";
inline constexpr const char* memif_dpdk_to_aether = "memif dpdk>aether";
inline constexpr const char* memif_dpdk_to_testpmd = "memif dpdk>testpmd";

// The three rows above, each measured with config's rate, counts and CPUs
// (the DPDK generator on generator_cpu; testpmd forwards on responder_cpu).
std::vector<BackendLatency> run_memif_vs_dpdk(const LatencyBenchConfig& config, const Clock& clock,
                                              const std::atomic<bool>& stop, const ProgressFunction& progress);

// aether-dpdk-pinger: $AETHER_DPDK_PINGER, else next to the running
// executable; an error naming where it looked and how to get it.
Result<std::string> find_dpdk_pinger();

}  // namespace aether::measure
