// `aether bench throughput`: Mpps per path, sent against received.
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/measure/throughput_bench.hpp"
#include "bench_options.hpp"
#include "commands.hpp"
#include "aether/runtime/stop_signal.hpp"
#include "report_files.hpp"

namespace aether::cli {
namespace {

struct ThroughputOptions {
  std::string backends = "all";
  std::string ports;  // --ports SPEC_A,SPEC_B
  std::vector<std::size_t> sizes{64};
  double seconds = 2.0;
  std::string cpus;
  int fifo_priority = 0;
  bool allow_rt_throttling = false;
  std::uint64_t ring_messages = 100000;  // the floor line; 0 skips it
  PartitionPlacementOptions partition;  // --partition: sender and receiver on Aether CPUs
  std::string json_path;
  bool vs_dpdk = false;
  unsigned repeat = 1;
  std::string sched;  // other, fifo or both; empty: fifo if --fifo was given
};

int run_throughput(const ThroughputOptions& options) {
  auto backends = select_bench_paths(options.backends, options.ports);
  if (!backends) {
    fmt::print(stderr, "aether bench throughput: {}\n", backends.error().describe());
    return exit_failure;
  }
  auto schedules = choose_bench_schedules(options.sched, options.fifo_priority);
  if (!schedules) {
    fmt::print(stderr, "aether bench throughput: {}\n", schedules.error().describe());
    return exit_failure;
  }
  const int fifo_priority = schedules->fifo_priority.value_or(0);
  if (auto throttling = check_rt_throttling(fifo_priority, options.allow_rt_throttling); !throttling) {
    fmt::print(stderr, "aether bench throughput: {}\n", throttling.error().describe());
    return exit_failure;
  }
  auto cpus = choose_bench_cpus(options.cpus, options.partition, "aether bench throughput");
  if (!cpus) {
    fmt::print(stderr, "aether bench throughput: {}\n", cpus.error().describe());
    return exit_failure;
  }
  if (geteuid() != 0 && options.ports.empty()) {
    fmt::print(stderr, "aether bench throughput: needs root (network namespaces, veth, raw sockets, XDP)\n");
    return exit_failure;
  }
  measure::ThroughputBenchConfig config;
  config.vs_dpdk = options.vs_dpdk;
  if (options.vs_dpdk && std::none_of(backends->begin(), backends->end(), [](const auto& b) { return b.kind == "memif"; })) {
    fmt::print(stderr, "aether bench throughput: --vs-dpdk compares the memif path: add memif to --backends\n");
    return exit_failure;
  }
  config.backends = std::move(*backends);
  config.frame_sizes = options.sizes;
  config.seconds = options.seconds;
  config.sender_cpu = cpus->first;
  config.receiver_cpu = cpus->second;
  // The SPSC ring round trip between the same two cores: the floor line.
  config.ring_messages = options.ring_messages;
  config.fifo_priority = schedules->fifo_priority;
  config.both_schedules = schedules->both;
  config.repeat = options.repeat;
  const auto& stop = runtime::install_stop_signals();
  const auto report = measure::run_throughput_bench(config, stop, [](const std::string& line) { fmt::print(stderr, "{}\n", line); });
  fmt::print("\n{}", measure::format_throughput_table(report));
  if (!options.json_path.empty()) {
    if (auto written = write_text_file(options.json_path, measure::throughput_report_to_json(report).dump(2) + "\n"); !written) {
      fmt::print(stderr, "aether bench throughput: {}\n", written.error().describe());
      return exit_failure;
    }
  }
  if (!options.ports.empty() && !report.results.empty() && !report.results.front().error.empty()) {
    fmt::print(stderr, "aether bench throughput: {}\n", report.results.front().error);
    return exit_failure;
  }
  return report.interrupted ? 130 : exit_ok;
}

}  // namespace

void register_throughput_bench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<ThroughputOptions>();
  CLI::App* command = bench.add_subcommand(
      "throughput",
      "One pinned core sends frames as fast as the path takes them, another receives; Mpps and Gbit/s per path, "
      "received against sent, over a veth pair in throwaway namespaces. Needs root.");
  auto* backends =
      command->add_option("--backends", options->backends, "Paths: comma-separated from udp, udp-block, afpacket, afxdp, memif, memif-copy (not in all), or all")
          ->default_val("all");
  add_ports_option(*command, backends, options->ports);
  command->add_option("--size", options->sizes, "Frame sizes in bytes without FCS (64..1514); repeat or comma-separate")
      ->delimiter(',')
      ->check(CLI::Range(64, 1514));
  command->add_option("--seconds", options->seconds, "Measured seconds per path and size")->default_val(2.0)->check(CLI::Range(0.1, 3600.0));
  command->add_option("--cpus", options->cpus, "Sender and receiver CPUs, e.g. 0,1 (default: the first two allowed)");
  command->add_option("--fifo", options->fifo_priority, "Run both workers SCHED_FIFO at this priority (1-99)")->check(CLI::Range(1, 99));
  add_repeat_options(*command, options->repeat, options->sched);
  add_rt_throttling_option(*command, options->allow_rt_throttling);
  command->add_option("--ring-messages", options->ring_messages, "Round trips for the SPSC ring floor line (0: skip)")
      ->default_val(100000);
  command->add_option("--json", options->json_path, "Write the JSON report here");
  add_partition_options(*command, options->partition);
  command->add_flag("--vs-dpdk", options->vs_dpdk,
                    "After each memif run, run DPDK testpmd txonly -> rxonly over memif on the same CPUs and print "
                    "both Mpps and their ratio (needs the dpdk-dev and librte-net-memif23 packages)");
  command->callback([options, &exit_code] { exit_code = run_throughput(*options); });
}

}  // namespace aether::cli
