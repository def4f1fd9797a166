// `aether bench latency`: every path side by side, with the ring floor.
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/clock.hpp"
#include "aether/core/cpu_list.hpp"
#include "aether/core/thread_setup.hpp"
#include "aether/measure/latency_bench.hpp"
#include "aether/measure/latency_rounds.hpp"
#include "bench_options.hpp"
#include "commands.hpp"
#include "fluid_commands.hpp"  // bench fluid
#include "aether/runtime/stop_signal.hpp"
#include "report_files.hpp"

namespace aether::cli {

Result<std::pair<unsigned, unsigned>> choose_bench_cpus(const std::string& text, const PartitionPlacementOptions& partition,
                                                        std::string_view command) {
  std::vector<unsigned> cpus;
  if (!text.empty()) {
    auto parsed = parse_cpu_list(text);
    if (!parsed) return Error{parsed.error().code, "--cpus: " + parsed.error().message};
    cpus = *parsed;
    if (cpus.size() != 2) return invalid_argument(fmt::format("--cpus: give two CPUs (generator,responder), got '{}'", text));
  }
  if (partition.enabled) {
    auto placed = place_workers_on_partition(partition, cpus, "--cpus", 2, command);
    if (!placed) return std::move(placed).error();
    cpus = *placed;
  } else if (text.empty()) {
    auto allowed = allowed_cpus();
    if (!allowed) return std::move(allowed).error();
    cpus = *allowed;
  }
  if (cpus.size() < 2) {
    return invalid_argument(fmt::format(
        "the benchmark needs two CPUs (one busy-polling generator, one responder) and this process may use only {}",
        format_cpu_list(cpus)));
  }
  return std::pair{cpus[0], cpus[1]};
}

Result<void> check_rt_throttling(int fifo_priority, bool allow_rt_throttling) {
  if (fifo_priority <= 0 || allow_rt_throttling) return {};
  const auto rt = read_rt_bandwidth();
  if (!rt || !rt->throttling_on()) return {};
  return invalid_argument(fmt::format(
      "--fifo {} with RT throttling on (kernel.sched_rt_runtime_us = {}): the kernel stops every SCHED_FIFO worker "
      "for the rest of each period once it has run {} us of it (~{} ms a second), and the tail figures would show "
      "that gap as the path's. Turn throttling off: `aether partition apply` does (journaled, `revert` undoes it), or "
      "sysctl -w kernel.sched_rt_runtime_us=-1 for the run; or pass "
      "--allow-rt-throttling to measure with it",
      fifo_priority, rt->runtime_us, rt->runtime_us, rt->stopped_us() / 1000));
}

void add_rt_throttling_option(CLI::App& command, bool& allow) {
  command.add_flag("--allow-rt-throttling", allow,
                   "Run --fifo workers even though RT throttling (kernel.sched_rt_runtime_us not -1 and below the period) will stop them "
                   "every second");
}

void add_repeat_options(CLI::App& command, unsigned& repeat, std::string& sched) {
  command.add_option("--repeat", repeat, "Rounds: every run this many times, alternating; with several, a summary gives "
                                         "the median and range of each figure")
      ->default_val(1)
      ->check(CLI::Range(1, 1000));
  command.add_option("--sched", sched, "Workers' scheduling: other (SCHED_OTHER), fifo (SCHED_FIFO at --fifo, default 50) "
                                       "or both (alternating within each round)")
      ->check(CLI::IsMember({"other", "fifo", "both"}));
}

Result<BenchSchedules> choose_bench_schedules(const std::string& sched, int fifo_priority) {
  constexpr int default_fifo_priority = 50;
  BenchSchedules out;
  if (sched == "other") {
    if (fifo_priority > 0) return invalid_argument(fmt::format("--sched other with --fifo {}: choose one (or --sched both)", fifo_priority));
    return out;
  }
  if (sched.empty() && fifo_priority <= 0) return out;
  out.fifo_priority = fifo_priority > 0 ? fifo_priority : default_fifo_priority;
  out.both = sched == "both";
  return out;
}

Result<std::vector<measure::BenchBackend>> select_bench_paths(const std::string& backends, const std::string& ports) {
  if (ports.empty()) return measure::select_bench_backends(backends);
  auto given = measure::given_ports_backend(ports);
  if (!given) return std::move(given).error();
  return std::vector<measure::BenchBackend>{std::move(*given)};
}

void add_ports_option(CLI::App& command, CLI::Option* backends, std::string& ports) {
  command
      .add_option("--ports", ports,
                  "Measure two ports you connected instead of the built-in paths: SPEC_A,SPEC_B, the generator on A "
                  "and the responder on B (e.g. afpacket:eth1,afpacket:eth2 or vfio:0000:00:03.0,vfio:0000:00:04.0); "
                  "frames go to B's MAC")
      ->excludes(backends);
}

namespace {

// --repeat N or --sched both: every round's table, then the medians; the
// JSON holds every run and the summary.
int run_latency_rounds_command(const LatencyBenchOptions& options, const measure::LatencyBenchConfig& config,
                               bool both_schedules, const Clock& clock, const std::atomic<bool>& stop) {
  const auto rounds = measure::run_latency_rounds(config, options.repeat, both_schedules, clock, stop,
                                                  [](const std::string& line) { fmt::print(stderr, "{}\n", line); });
  const std::string text = measure::format_latency_rounds(rounds);
  fmt::print("\n{}", text);
  const std::string json = measure::latency_rounds_to_json(rounds).dump(2) + "\n";
  int status = exit_ok;
  for (const auto& [path, content] : {std::pair{options.json_path, &json}, std::pair{options.out_dir.empty() ? "" : options.out_dir + "/latency.json", &json},
                                      std::pair{options.out_dir.empty() ? "" : options.out_dir + "/latency.txt", &text}}) {
    if (path.empty()) continue;
    if (auto written = write_text_file(path, *content); !written) {
      fmt::print(stderr, "aether bench latency: {}\n", written.error().describe());
      status = exit_failure;
    }
  }
  return rounds.interrupted ? 130 : status;
}

}  // namespace

int run_latency_bench_command(const LatencyBenchOptions& options) {
  auto backends = select_bench_paths(options.backends, options.ports);
  if (!backends) {
    fmt::print(stderr, "aether bench latency: {}\n", backends.error().describe());
    return exit_failure;
  }
  auto schedules = choose_bench_schedules(options.sched, options.fifo_priority);
  if (!schedules) {
    fmt::print(stderr, "aether bench latency: {}\n", schedules.error().describe());
    return exit_failure;
  }
  if (auto throttling = check_rt_throttling(schedules->fifo_priority.value_or(0), options.allow_rt_throttling); !throttling) {
    fmt::print(stderr, "aether bench latency: {}\n", throttling.error().describe());
    return exit_failure;
  }
  auto cpus = choose_bench_cpus(options.cpus, options.partition, "aether bench latency");
  if (!cpus) {
    fmt::print(stderr, "aether bench latency: {}\n", cpus.error().describe());
    return exit_failure;
  }
  measure::LatencyBenchConfig config;
  config.backends = std::move(*backends);
  config.rate_per_second = options.rate;
  config.seconds = options.seconds;
  config.closed_loop_probes = options.probes;
  config.warmup_probes = options.warmup;
  config.frame_size = options.frame_size;
  config.generator_cpu = cpus->first;
  config.responder_cpu = cpus->second;
  config.fifo_priority = schedules->fifo_priority;
  config.ring_messages = options.ring_messages;
  config.rerun_overloaded = options.rerun_overloaded;
  config.vs_dpdk = options.vs_dpdk;
  if (config.vs_dpdk && std::none_of(config.backends.begin(), config.backends.end(),
                                     [](const auto& b) { return b.kind == "memif" && !b.given(); })) {
    fmt::print(stderr, "aether bench latency: --vs-dpdk measures the memif path against DPDK: add memif to --backends\n");
    return exit_failure;
  }
  config.host_noise = options.host_noise;
  // Given ports say for themselves what they lack (the port registry's error).
  if (geteuid() != 0 && options.ports.empty()) {
    fmt::print(stderr,
               "aether bench latency: not root: the paths need CAP_SYS_ADMIN (network namespaces), CAP_NET_ADMIN "
               "(veth), CAP_NET_RAW (afpacket) and CAP_BPF (afxdp); only the ring floor will be measured\n");
    config.backends.clear();
  }
  if (auto locked = lock_all_memory(); !locked) {
    fmt::print(stderr, "aether bench latency: warning: {}\n", locked.error().describe());
  }

  const auto& stop = runtime::install_stop_signals();
  const Clock clock = Clock::calibrate();
  fmt::print(stderr, "aether bench latency: {} path(s), CPUs {} and {} (Ctrl-C prints what was measured so far)\n",
             config.backends.size(), config.generator_cpu, config.responder_cpu);
  const auto print_progress = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  if (options.repeat > 1 || schedules->both) return run_latency_rounds_command(options, config, schedules->both, clock, stop);
  const auto report = measure::run_latency_bench(config, clock, stop, print_progress);
  const std::string table = measure::format_latency_table(report);
  fmt::print("\n{}", table);

  const std::string json = measure::latency_report_to_json(report).dump(2) + "\n";
  const std::string svg = measure::latency_report_to_svg(report);
  int status = exit_ok;
  auto write = [&](const std::string& path, const std::string& text) {
    if (path.empty()) return;
    if (auto written = write_text_file(path, text); !written) {
      fmt::print(stderr, "aether bench latency: {}\n", written.error().describe());
      status = exit_failure;
    } else {
      fmt::print(stderr, "aether bench latency: wrote {}\n", path);
    }
  };
  if (!options.out_dir.empty()) {
    write(options.out_dir + "/latency.json", json);
    write(options.out_dir + "/latency.svg", svg);
    write(options.out_dir + "/latency.txt", table);
  }
  write(options.json_path, json);
  write(options.svg_path, svg);
  // Given ports that could not run are the command's failure, not a row among others.
  if (!options.ports.empty() && !report.backends.empty() && !report.backends.front().error.empty()) {
    fmt::print(stderr, "aether bench latency: {}\n", report.backends.front().error);
    status = exit_failure;
  }
  return report.interrupted ? 130 : status;
}

void add_latency_options(CLI::App& command, LatencyBenchOptions& options) {
  command.add_option("--backends", options.backends, "Paths to compare: comma-separated from udp, udp-block, afpacket, afxdp, memif, memif-copy (not in all), or all")
      ->default_val("all");
  command.add_option("--rate", options.rate, "Probes per second (0: closed loop, one probe in flight)")
      ->default_val(100000)
      ->check(CLI::Range(0.0, 10'000'000.0));
  command.add_option("--seconds", options.seconds, "Recorded seconds per path at a fixed rate")
      ->default_val(3.0)
      ->check(CLI::Range(0.01, 3600.0));
  command.add_option("--probes", options.probes, "Recorded probes per path in closed loop (--rate 0)")
      ->default_val(20000)
      ->check(CLI::Range(1, 100'000'000));
  command.add_option("--warmup", options.warmup, "Probes sent before recording starts")->default_val(5000);
  command.add_option("--size", options.frame_size, "Probe frame size in bytes without FCS (64..1514)")
      ->default_val(64)
      ->check(CLI::Range(64, 1514));
  command.add_option("--cpus", options.cpus, "Generator and responder CPUs, e.g. 0,1 (default: the first two allowed)");
  command.add_option("--fifo", options.fifo_priority, "Run both workers SCHED_FIFO at this priority (1-99)")
      ->check(CLI::Range(1, 99));
  add_rt_throttling_option(command, options.allow_rt_throttling);
  add_repeat_options(command, options.repeat, options.sched);
  command.add_flag("--rerun-overloaded", options.rerun_overloaded,
                   "A path that cannot sustain --rate is marked OVERLOADED in its row; with this flag it is also "
                   "measured again, in a row of its own, at 80 % of the rate it sustained (the demo does this)");
  command.add_flag("--vs-dpdk", options.vs_dpdk,
                   "After the memif row, the same round trip with DPDK 22.11 in each role: Aether's generator against "
                   "testpmd (macswap), aether-dpdk-pinger against Aether's echo, and DPDK on both ends as the baseline "
                   "(needs dpdk-dev and librte-net-memif23)");
  command.add_option("--ring-messages", options.ring_messages, "Round trips for the SPSC ring floor (0: skip)")
      ->default_val(200000);
  command.add_option("--out", options.out_dir, "Directory for latency.json, latency.svg and latency.txt");
  command.add_option("--json", options.json_path, "Also write the JSON report here");
  command.add_option("--svg", options.svg_path, "Also write the SVG plot here");
  add_partition_options(command, options.partition);
}

void register_fwd_bench(CLI::App& bench, int& exit_code);  // cmd_bench_fwd.cpp

void register_bench(CLI::App& app, int& exit_code) {
  CLI::App* bench = app.add_subcommand("bench", "Measure paths side by side: latency (round trip) or throughput");
  bench->require_subcommand(1);
  auto latency_options = std::make_shared<LatencyBenchOptions>();
  CLI::App* latency = bench->add_subcommand(
      "latency",
      "Round trip of 64-byte UDP probes over each path: a generator on one pinned core, an echo responder on "
      "another, over a veth pair in two throwaway network namespaces; the SPSC ring between the same cores runs "
      "first as the floor. Prints a table, writes JSON and an SVG percentile plot. Needs root.");
  add_latency_options(*latency, *latency_options);
  add_ports_option(*latency, latency->get_option("--backends"), latency_options->ports);
  latency->callback([latency_options, &exit_code] { exit_code = run_latency_bench_command(*latency_options); });
  register_throughput_bench(*bench, exit_code);
  register_attest_bench(*bench, exit_code);
  register_feed_bench(*bench, exit_code);
  register_fwd_bench(*bench, exit_code);
  register_fluid_probe_bench(*bench, exit_code);
  register_fluid_bench(*bench, exit_code);
}

}  // namespace aether::cli
