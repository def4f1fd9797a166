// Options shared by `aether bench latency` and `aether demo`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "aether/core/result.hpp"
#include "partition_placement.hpp"

namespace aether::cli {

struct LatencyBenchOptions {
  std::string backends = "all";
  double rate = 100000;
  double seconds = 3.0;
  std::uint64_t probes = 20000;
  std::uint64_t warmup = 5000;
  std::size_t frame_size = 64;
  std::string cpus;
  int fifo_priority = 0;
  PartitionPlacementOptions partition;  // --partition: both workers on Aether CPUs
  std::uint64_t ring_messages = 200000;
  std::string out_dir;
  std::string json_path;
  std::string svg_path;
};

void add_latency_options(CLI::App& command, LatencyBenchOptions& options);
int run_latency_bench_command(const LatencyBenchOptions& options);
// (generator, responder) CPUs from --cpus or the first two allowed; with
// --partition two Aether CPUs (--cpus must then name Aether CPUs), messages
// prefixed by `command`.
Result<std::pair<unsigned, unsigned>> choose_bench_cpus(const std::string& text, const PartitionPlacementOptions& partition,
                                                        std::string_view command);
void register_throughput_bench(CLI::App& bench, int& exit_code);

}  // namespace aether::cli
