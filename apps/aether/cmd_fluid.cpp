// `aether fluid watch|workload`: the fluid partition's telemetry (docs/fluid.md);
// the other subcommands are registered from their own files (fluid_commands.hpp).
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <chrono>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fluid_commands.hpp"
#include "aether/runtime/stop_signal.hpp"

#if defined(AETHER_HAVE_FLUID)
#include "aether/fluid/telemetry.hpp"
#include "aether/fluid/watch.hpp"
#include "aether/fluid/workload.hpp"
#endif

namespace aether::cli {
namespace {

struct FluidWatchOptions {
  pid_t pid = 0;
  std::string cgroup;
  int interval_ms = 100;
  std::uint64_t count = 0;  // 0: until the target ends or Ctrl-C
  std::string json_path;
};

struct FluidWorkloadOptions {
  std::string phases;
};

#if defined(AETHER_HAVE_FLUID)

int run_fluid_watch(const FluidWatchOptions& options) {
  fluid::WatchTarget target;
  target.pid = options.pid;
  target.cgroup = options.cgroup;
  auto opened = open_watch(target);
  if (!opened) {
    fmt::print(stderr, "aether fluid watch: {}\n", opened.error().describe());
    return exit_failure;
  }
  auto& session = opened->session;
  std::ofstream json;
  if (!options.json_path.empty()) {
    json.open(options.json_path);
    if (!json) {
      fmt::print(stderr, "aether fluid watch: cannot write {}\n", options.json_path);
      return exit_failure;
    }
  }
  const std::string what = target.cgroup.empty() ? fmt::format("pid {}", target.pid) : fmt::format("cgroup {}", options.cgroup);
  fmt::print("aether fluid watch: {} every {} ms (counts per interval; Ctrl-C stops)\n", what, options.interval_ms);
  if (const auto& reason = session->pmu_unavailable_reason(); !reason.empty()) {
    fmt::print("aether fluid watch: PMU counters (IPC, LLC misses) unavailable: {}\n", reason);
  }
  std::fflush(stdout);
  const auto& interrupted = runtime::install_stop_signals();
  for (std::uint64_t done = 0; options.count == 0 || done < options.count; ++done) {
    if (interrupted.load(std::memory_order_relaxed)) break;  // relaxed: a flag, nothing published with it
    auto features = session->next(std::chrono::milliseconds(options.interval_ms));
    if (!features) {
      const bool pid_exited = target.cgroup.empty() && features.error().code.value() == ESRCH;
      fmt::print(stderr, "aether fluid watch: {}; stopping\n", features.error().message);
      return pid_exited ? exit_ok : exit_failure;
    }
    fmt::print("{}\n", fluid::format_feature_line(*features));
    std::fflush(stdout);
    if (json.is_open()) {
      nlohmann::json line = fluid::to_json(*features);
      line["target"] = what;
      json << line.dump() << '\n' << std::flush;  // one object per line, complete even if killed
    }
  }
  return exit_ok;
}

int run_fluid_workload(const FluidWorkloadOptions& options) {
  auto phases = fluid::parse_phases(options.phases);
  if (!phases) {
    fmt::print(stderr, "aether fluid workload: --phases: {}\n", phases.error().describe());
    return exit_failure;
  }
  fmt::print("aether fluid workload: pid {}\n", ::getpid());
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  auto results = fluid::run_workload(*phases, [start](const fluid::WorkloadPhase& phase) {
    const double at = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("phase {} for {:.3f} s starts at +{:.3f} s\n", fluid::phase_name(phase.kind),
               static_cast<double>(phase.duration.count()) / 1e3, at);
    std::fflush(stdout);
  });
  if (!results) {
    fmt::print(stderr, "aether fluid workload: {}\n", results.error().describe());
    return exit_failure;
  }
  for (const auto& result : *results) {
    fmt::print("phase {}: {} operations\n", fluid::phase_name(result.phase.kind), result.operations);
  }
  return exit_ok;
}

#else

int run_fluid_watch(const FluidWatchOptions&) { return fluid_missing("watch"); }
int run_fluid_workload(const FluidWorkloadOptions&) { return fluid_missing("workload"); }

#endif

}  // namespace

int fluid_missing(std::string_view command) {
  fmt::print(stderr,
             "aether fluid {}: this build has no fluid module (/sys/kernel/btf/vmlinux, bpftool, clang or libbpf "
             "was missing when it was configured; see the CMake output)\n",
             command);
  return exit_failure;
}

#if defined(AETHER_HAVE_FLUID)
Result<OpenedWatch> open_watch(const fluid::WatchTarget& target) {
  if (!target.cgroup.empty()) {
    if (auto procs = fluid::read_cgroup_procs(target.cgroup); !procs) return std::move(procs).error();
  } else if (::kill(target.pid, 0) != 0 && errno == ESRCH) {
    return errno_error(fmt::format("pid {} does not exist", target.pid), ESRCH);
  }
  auto telemetry = fluid::Telemetry::open();
  if (!telemetry) return std::move(telemetry).error();
  OpenedWatch opened;
  opened.telemetry = std::make_unique<fluid::Telemetry>(std::move(*telemetry));
  auto session = fluid::WatchSession::start(*opened.telemetry, target);
  if (!session) return std::move(session).error();
  opened.session.emplace(std::move(*session));
  return opened;
}
#endif

void register_fluid(CLI::App& app, int& exit_code) {
  CLI::App* fluid = app.add_subcommand("fluid", "The fluid partition: eBPF telemetry of an application, its phases and their classifier (docs/fluid.md)");
  fluid->require_subcommand(1);

  auto watch_options = std::make_shared<FluidWatchOptions>();
  CLI::App* watch = fluid->add_subcommand(
      "watch",
      "Count a process's (or a cgroup's) syscalls by class, user page faults, context switches, run-queue wait and "
      "softirq time on its CPUs, per interval, with in-kernel BPF counters. Needs root (CAP_BPF + CAP_PERFMON).");
  auto* pid = watch->add_option("--pid", watch_options->pid, "Watch this process (all its threads)")->check(CLI::PositiveNumber);
  auto* cgroup = watch->add_option("--cgroup", watch_options->cgroup,
                                   "Watch every process of this cgroup directory (its cgroup.procs, re-read each interval)");
  pid->excludes(cgroup);
  cgroup->excludes(pid);
  watch->add_option("--interval-ms", watch_options->interval_ms, "Interval length")->default_val(100)->check(CLI::Range(10, 60000));
  watch->add_option("--count", watch_options->count, "Stop after this many intervals (default: until the target ends or Ctrl-C)");
  watch->add_option("--json", watch_options->json_path, "Also write one JSON object per interval (JSON lines) to FILE");
  watch->callback([watch_options, watch, &exit_code] {
    if (watch->count("--pid") == 0 && watch->count("--cgroup") == 0) {
      fmt::print(stderr, "aether fluid watch: give --pid N or --cgroup PATH\n");
      exit_code = exit_failure;
      return;
    }
    exit_code = run_fluid_watch(*watch_options);
  });

  auto workload_options = std::make_shared<FluidWorkloadOptions>();
  CLI::App* workload = fluid->add_subcommand(
      "workload",
      "Run a deterministic workload in labelled phases: idle (sleeps), packets (UDP bursts to itself on 127.0.0.1), syscall (getppid + pipe write/read), compute "
      "(spins), faults (touches fresh mmap'ed pages).");
  workload->add_option("--phases", workload_options->phases, "NAME:SECONDS,... e.g. idle:1,packets:1,syscall:1,compute:1,faults:1")
      ->default_val("idle:1,packets:1,syscall:1,compute:1,faults:1");
  workload->callback([workload_options, &exit_code] { exit_code = run_fluid_workload(*workload_options); });

  register_fluid_record(*fluid, exit_code);
  register_fluid_model(*fluid, exit_code);
  register_fluid_run(*fluid, exit_code);
}

}  // namespace aether::cli
