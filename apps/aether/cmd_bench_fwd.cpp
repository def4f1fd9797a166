// `aether bench fwd`: the forwarder of `aether fwd` between two ports on one
// shared pool against the same forwarder on a pool per port (the copy
// path), in one run: forwarded Mpps, their ratio and frames copied per
// forwarded frame (0 with the shared pool), as a table and JSON.
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/measure/fwd_bench.hpp"
#include "aether/runtime/stop_signal.hpp"
#include "bench_options.hpp"
#include "commands.hpp"
#include "report_files.hpp"

namespace aether::cli {
namespace {

struct FwdBenchOptions {
  std::string backend = "afxdp";
  std::size_t size = 64;
  double seconds = 2.0;
  std::string cpus;
  int fifo_priority = 0;
  bool allow_rt_throttling = false;
  PartitionPlacementOptions partition;
  std::string json_path;
};

int run_fwd_bench_command(const FwdBenchOptions& options) {
  if (auto kind = measure::check_fwd_bench_kind(options.backend); !kind) {
    fmt::print(stderr, "aether bench fwd: {}\n", kind.error().describe());
    return exit_failure;
  }
  if (geteuid() != 0 && options.backend != "memif") {
    fmt::print(stderr, "aether bench fwd: --backend {} needs root (network namespaces, veth pairs, raw or XDP "
                       "sockets); --backend memif runs without\n", options.backend);
    return exit_failure;
  }
  if (auto throttling = check_rt_throttling(options.fifo_priority, options.allow_rt_throttling); !throttling) {
    fmt::print(stderr, "aether bench fwd: {}\n", throttling.error().describe());
    return exit_failure;
  }
  auto cpus = choose_bench_cpus(options.cpus, options.partition, "aether bench fwd");
  if (!cpus) {
    fmt::print(stderr, "aether bench fwd: {}\n", cpus.error().describe());
    return exit_failure;
  }
  measure::FwdBenchConfig config;
  config.kind = options.backend;
  config.frame_size = options.size;
  config.seconds = options.seconds;
  config.traffic_cpu = cpus->first;
  config.forwarder_cpu = cpus->second;
  if (options.fifo_priority > 0) config.fifo_priority = options.fifo_priority;
  const auto& stop = runtime::install_stop_signals();
  const auto report = measure::run_fwd_bench(config, stop, [](const std::string& line) { fmt::print(stderr, "{}\n", line); });
  fmt::print("\n{}", measure::format_fwd_table(report));
  if (!options.json_path.empty()) {
    if (auto written = write_text_file(options.json_path, measure::fwd_report_to_json(report).dump(2) + "\n"); !written) {
      fmt::print(stderr, "aether bench fwd: {}\n", written.error().describe());
      return exit_failure;
    }
  }
  for (const auto& run : report.runs) {
    if (!run.error.empty()) return exit_failure;
  }
  return report.interrupted ? 130 : exit_ok;
}

}  // namespace

void register_fwd_bench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<FwdBenchOptions>();
  CLI::App* command = bench.add_subcommand(
      "fwd",
      "sender -> in => out -> sink: `aether fwd`'s forwarder with in and out on one shared pool, then on a pool "
      "each (the copy path), in one run; forwarded Mpps, the ratio and frames copied per forwarded frame");
  command->add_option("--backend", options->backend, "afxdp or afpacket (two veth pairs, root) or memif (no root)")
      ->default_val("afxdp");
  command->add_option("--size", options->size, "Frame size in bytes without FCS (64..1514)")
      ->default_val(64)
      ->check(CLI::Range(64, 1514));
  command->add_option("--seconds", options->seconds, "Measured seconds per pool layout")
      ->default_val(2.0)
      ->check(CLI::Range(0.1, 3600.0));
  command->add_option("--cpus", options->cpus,
                      "Sender+sink CPU and forwarder CPU, e.g. 0,1 (default: the first two allowed)");
  command->add_option("--fifo", options->fifo_priority, "Run both workers SCHED_FIFO at this priority (1-99)")
      ->check(CLI::Range(1, 99));
  add_rt_throttling_option(*command, options->allow_rt_throttling);
  command->add_option("--json", options->json_path, "Write the JSON report here");
  add_partition_options(*command, options->partition);
  command->callback([options, &exit_code] { exit_code = run_fwd_bench_command(*options); });
}

}  // namespace aether::cli
