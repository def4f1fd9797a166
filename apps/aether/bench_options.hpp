// Options shared by `aether bench latency` and `aether demo`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "aether/core/result.hpp"
#include "aether/measure/latency_bench.hpp"
#include "partition_placement.hpp"

namespace aether::cli {

struct LatencyBenchOptions {
  std::string backends = "all";
  std::string ports;  // --ports SPEC_A,SPEC_B: two ports the user connected, instead of --backends
  double rate = 100000;
  double seconds = 3.0;
  std::uint64_t probes = 20000;
  std::uint64_t warmup = 5000;
  std::size_t frame_size = 64;
  std::string cpus;
  int fifo_priority = 0;
  bool allow_rt_throttling = false;
  PartitionPlacementOptions partition;  // --partition: both workers on Aether CPUs
  std::uint64_t ring_messages = 200000;
  std::string out_dir;
  std::string json_path;
  std::string svg_path;
  bool rerun_overloaded = false;
  bool vs_dpdk = false;  // --vs-dpdk: memif round trips with DPDK in each role  // the demo: an overloaded path again at a rate it sustains
  unsigned repeat = 1;   // --repeat: rounds, summarized as median and range
  std::string sched;     // --sched other|fifo|both
  std::optional<measure::LatencyBenchConfig::HostNoise> host_noise;  // the demo: jitter of the same run
};

void add_latency_options(CLI::App& command, LatencyBenchOptions& options);
int run_latency_bench_command(const LatencyBenchOptions& options);
// (generator, responder) CPUs from --cpus or the first two allowed; with
// --partition two Aether CPUs (--cpus must then name Aether CPUs), messages
// prefixed by `command`.
Result<std::pair<unsigned, unsigned>> choose_bench_cpus(const std::string& text, const PartitionPlacementOptions& partition,
                                                        std::string_view command);
void register_throughput_bench(CLI::App& bench, int& exit_code);
// --fifo refuses to run while RT throttling would stop its workers every
// second, unless --allow-rt-throttling was given.
Result<void> check_rt_throttling(int fifo_priority, bool allow_rt_throttling);
void add_rt_throttling_option(CLI::App& command, bool& allow);
// --repeat N and --sched other|fifo|both (the --vs-dpdk medians, issue 12).
void add_repeat_options(CLI::App& command, unsigned& repeat, std::string& sched);
struct BenchSchedules {
  std::optional<int> fifo_priority;  // the SCHED_FIFO runs' priority; none: SCHED_OTHER only
  bool both = false;                 // SCHED_OTHER and SCHED_FIFO runs alternate
};
// --sched and --fifo together: "both" or "fifo" without --fifo uses priority 50.
Result<BenchSchedules> choose_bench_schedules(const std::string& sched, int fifo_priority);
void register_attest_bench(CLI::App& bench, int& exit_code);  // cmd_bench_attest.cpp
void register_feed_bench(CLI::App& bench, int& exit_code);    // cmd_bench_feed.cpp

// `aether bench feed` (cmd_bench_feed.cpp), also run by `aether demo`.
struct FeedBenchOptions {
  std::string backends = "memif,afxdp,udp";
  std::string rates = "100000,1000000,max";
  std::uint64_t messages = 300'000;
  std::uint32_t symbols = 1000;
  std::string cpus;
  double timeout = 60;
  std::string json_path;
};
int run_feed_bench(const FeedBenchOptions& options);
// The paths of --backends, or the one path of --ports when it is given.
Result<std::vector<measure::BenchBackend>> select_bench_paths(const std::string& backends, const std::string& ports);
// Adds --ports to a bench command (it excludes --backends).
void add_ports_option(CLI::App& command, CLI::Option* backends, std::string& ports);

}  // namespace aether::cli
