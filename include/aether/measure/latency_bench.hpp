// `aether bench latency`: the same round trip over each path, side by side.
//
// For each backend, a throwaway veth pair in two fresh network namespaces;
// a generator (LatencyGenerator) on one pinned core sends 64-byte probes
// through the backend on one end, an echo responder on another pinned core
// answers through the same backend on the other end. The SPSC-ring round
// trip between the same two cores runs first: the floor.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "aether/core/clock.hpp"
#include "aether/core/result.hpp"
#include "aether/measure/latency_generator.hpp"
#include "aether/net/port.hpp"
#include "aether/ring/round_trip.hpp"

namespace aether::measure {

// A path under test: how to name its port on each end of the veth pair.
struct BenchBackend {
  std::string name;              // "udp", "udp-block", "afpacket", "afxdp"
  std::string kind;              // the port kind it opens
  std::string generator_query;   // appended to the generator's spec ("" or "?...")
  std::string responder_query;   // appended to the responder's spec
  std::string summary;
  // Given ports (--ports A,B): both non-empty, the two full specs of ports
  // the user has connected; no veth pair is made (PortsOnVeth::open_given).
  std::string given_generator_spec;
  std::string given_responder_spec;
  [[nodiscard]] bool given() const noexcept { return !given_generator_spec.empty(); }
};
// Every path this build can measure, in table order: the kernel UDP baseline first.
const std::vector<BenchBackend>& bench_backends();
// Resolves a comma-separated list ("udp,afxdp" or "all"); errors list the known names.
Result<std::vector<BenchBackend>> select_bench_backends(const std::string& list);
// The path of `--ports SPEC_A,SPEC_B`: the generator (sender) on A, the
// responder (sink) on B, labelled "SPEC_A,SPEC_B". Refuses anything but two
// distinct non-empty specs, and udp: specs (their frames are addressed by
// the kernel's UDP rules, not by the MAC of port B).
Result<BenchBackend> given_ports_backend(const std::string& ports);

struct LatencyBenchConfig {
  std::vector<BenchBackend> backends;
  double rate_per_second = 100'000;  // 0: closed loop
  double seconds = 3.0;              // recorded time per backend at a fixed rate
  std::uint64_t closed_loop_probes = 20'000;
  std::uint64_t warmup_probes = 5'000;
  std::size_t frame_size = 64;
  unsigned generator_cpu = 0;
  unsigned responder_cpu = 1;
  std::optional<int> fifo_priority;
  std::uint64_t ring_messages = 200'000;  // 0: skip the ring floor
  // A path that could not sustain `rate_per_second` is measured once more,
  // in a row of its own, at 80 % of the rate it did sustain (the demo).
  bool rerun_overloaded = false;
  // After the memif row: the same round trip with DPDK in each role
  // (latency_vs_dpdk.hpp), in rows of their own.
  bool vs_dpdk = false;
  // OS noise measured in the same run (aether jitter), printed beside the
  // tails it may explain.
  struct HostNoise {
    std::uint64_t longest_gap_ns = 0;
    unsigned cpu = 0;
    double seconds = 0;
  };
  std::optional<HostNoise> host_noise;
};

// A fixed-rate path counts as overloaded when it answered fewer than this
// share of the offered rate: its percentiles then measure a queue.
inline constexpr double sustained_share_min = 0.95;

struct BackendLatency {
  BenchBackend backend;
  std::string generator_spec;
  std::string responder_spec;
  std::string mode;                     // the responder port's negotiated mode
  std::vector<std::string> notes;
  std::string error;                    // non-empty: it could not run here, and why
  double rate_per_second = 0;           // offered probes/s of this row (0: closed loop)
  GeneratorResult generator;
  net::QueueStats generator_port;
  net::QueueStats responder_port;
  std::uint64_t responder_received = 0;
  std::uint64_t responder_sent = 0;
  std::uint64_t responder_dropped = 0;
  double responder_cpu_percent = 0;     // negative: not measured (a DPDK process)
  double generator_cpu_percent = 0;

  // Replies per second from the first probe to the last reply (warm-up included).
  [[nodiscard]] double sustained_per_second() const noexcept;
  // At a fixed rate, fewer than sustained_share_min of the offered rate came back.
  [[nodiscard]] bool overloaded() const noexcept;
};

struct LatencyBenchReport {
  LatencyBenchConfig config;
  std::string clock;
  std::vector<std::pair<std::string, std::string>> environment;
  std::optional<RingRoundTripResult> floor;
  std::string floor_error;
  std::vector<BackendLatency> backends;
  bool interrupted = false;
};

using ProgressFunction = std::function<void(const std::string& line)>;

// Runs every backend in turn. `stop` (e.g. set by SIGINT) ends the current
// backend early; what was measured so far is reported. A backend that cannot
// run here (no privilege, no kernel support) is reported with its error and
// the others still run.
LatencyBenchReport run_latency_bench(const LatencyBenchConfig& config, const Clock& clock,
                                     const std::atomic<bool>& stop, const ProgressFunction& progress);

std::string format_latency_table(const LatencyBenchReport& report);
// A row's name in the table, JSON and plot: the path, with its rate when it
// was measured at another rate than the configured one ("udp-block @40k/s").
std::string latency_row_label(const BackendLatency& backend, const LatencyBenchConfig& config);
nlohmann::json latency_report_to_json(const LatencyBenchReport& report);
// A percentile curve (x: percentile on a "nines" log axis, y: round trip on a
// log axis), one line per path plus the ring floor.
std::string latency_report_to_svg(const LatencyBenchReport& report);
// The percentile of a number of nines on that axis: 0 "p0", 1 "p90", 2 "p99", 3 "p99.9", ...
std::string nines_label(int nines);

}  // namespace aether::measure
