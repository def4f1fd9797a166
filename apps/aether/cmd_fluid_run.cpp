// `aether fluid run`: the fluid partition's loop (docs/fluid.md "fluid run"):
// each interval, the application's telemetry -> its phase (the model, or
// idle/compute by CPU demand) -> the CPUs the policy gives that phase -> the
// resize governor's safety rules -> the cpuset actuator, journaled. One line
// per interval on stdout, one JSON object per interval in the decision log.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fluid_commands.hpp"
#include "aether/partition/journal.hpp"
#include "aether/runtime/stop_signal.hpp"

#if defined(AETHER_HAVE_FLUID)
#include "aether/core/cpu_list.hpp"
#include "aether/fluid/actuator.hpp"
#include "aether/fluid/decision_tree.hpp"
#include "aether/fluid/policy.hpp"
#include "aether/fluid/resize_governor.hpp"
#include "aether/fluid/trace.hpp"
#endif

namespace aether::cli {
namespace {

struct FluidRunOptions {
  std::string policy_path;
  std::string cgroup;
  pid_t pid = 0;
  std::string model_path;
  std::string cpus;  // the pool; empty: the parent cpuset's CPUs
  std::string journal_path;  // empty: the partition's journal if there is one, else fluid_journal_path
  std::string log_path;
  std::uint64_t count = 0;  // intervals; 0: until the target ends or Ctrl-C
};

// Without a partition journal to join, fluid run keeps its own: a journal
// at the partition's path would name the pool as the Aether CPUs, and
// `--partition` (docs/partition.md) would take it for an applied partition.
constexpr const char* fluid_journal_path = "/var/lib/aether/fluid.journal";

#if defined(AETHER_HAVE_FLUID)

// Without a model: an interval is "idle" when the application ran or waited
// to run for less than this share of one CPU, else "compute". Running plus
// run-queue wait, not running alone: on a loaded host a busy application
// may get a tenth of a CPU and wait the rest, and that is when it needs CPUs.
constexpr double idle_cpu_demand = 0.1;

double cpu_demand(const fluid::FeatureVector& features) {
  if (features.interval_ns == 0) return 0.0;
  return static_cast<double>(features.cpu_ns + features.counts.runqueue_wait_ns) / static_cast<double>(features.interval_ns);
}

int fail(const std::string& message) {
  fmt::print(stderr, "aether fluid run: {}\n", message);
  return exit_failure;
}

std::string duration_text(std::chrono::nanoseconds duration) {
  return fmt::format("{:.3f} ms", static_cast<double>(duration.count()) / 1e6);
}

int run_fluid_run(const FluidRunOptions& options) {
  auto policy = fluid::load_policy(options.policy_path);
  if (!policy) return fail(policy.error().describe());
  std::optional<fluid::DecisionTree> model;
  if (!options.model_path.empty()) {
    auto loaded = fluid::DecisionTree::load(options.model_path);
    if (!loaded) return fail(loaded.error().describe());
    model.emplace(std::move(*loaded));
  }
  partition::HostAccess host;
  fluid::ActuatorConfig config;
  config.journal_path = options.journal_path;
  if (config.journal_path.empty()) {
    std::error_code ignored;
    const bool partition_applied = std::filesystem::exists(partition::default_journal_path, ignored);
    config.journal_path = partition_applied ? partition::default_journal_path : fluid_journal_path;
  }
  if (!options.cpus.empty()) {
    auto pool = parse_cpu_list(options.cpus);
    if (!pool) return fail(fmt::format("--cpus: {}", pool.error().message));
    config.pool = std::move(*pool);
  }
  fluid::WatchTarget target;
  if (options.pid != 0) {
    auto cgroup = fluid::cpuset_cgroup_of(host, options.pid);
    if (!cgroup) return fail(cgroup.error().describe());
    config.cgroup = *cgroup;
    target.pid = options.pid;
  } else {
    config.cgroup = options.cgroup;
    target.cgroup = options.cgroup;
  }
  auto actuator = fluid::CpusetActuator::open(config, host);
  if (!actuator) return fail(actuator.error().describe());
  auto opened = open_watch(target);
  if (!opened) return fail(opened.error().describe());
  const auto& pool = actuator->pool();
  // The pool never holds the host's last CPU (checked for an exclusive
  // cpuset by the actuator), so the governor shares pool + 1 CPUs.
  const unsigned share = static_cast<unsigned>(pool.size()) + 1;
  const unsigned upper = std::min<unsigned>(policy->rules.ceiling_cpus, static_cast<unsigned>(pool.size()));
  unsigned initial = 0;
  for (unsigned cpu : actuator->cpus()) initial += cpu_list_contains(pool, cpu) ? 1 : 0;
  const unsigned start_size = std::clamp(initial, std::min(policy->rules.floor_cpus, upper), upper);
  auto governor = fluid::ResizeGovernor::create(policy->rules, share, start_size);
  if (!governor) return fail(fmt::format("policy {}: {}", policy->source, governor.error().message));
  std::ofstream log;
  if (!options.log_path.empty()) {
    log.open(options.log_path);
    if (!log) return fail(fmt::format("cannot write the decision log {}", options.log_path));
  }
  fmt::print("aether fluid run: {} ({} policy, {}), CPUs {} of the pool {}, every {} ms; journal {}\n", config.cgroup,
             fluid::goal_name(policy->goal), policy->source, format_cpu_list(actuator->cpus()),
             format_cpu_list(pool), policy->interval.count(), actuator->journal_path().native());
  fmt::print("aether fluid run: phases from {}\n",
             model ? fmt::format("the model {}", options.model_path)
                   : fmt::format("CPU demand (on-CPU + run-queue wait below {} of a CPU: idle, else compute; no --model)",
                                 idle_cpu_demand));
  if (initial != start_size) {
    auto resized = actuator->resize(start_size);
    if (!resized) return fail(resized.error().describe());
    fmt::print("aether fluid run: held {} CPUs of the pool, outside the policy's {}..{}: now {}\n", initial,
               policy->rules.floor_cpus, upper, format_cpu_list(resized->cpus));
  }
  std::fflush(stdout);

  const auto& interrupted = runtime::install_stop_signals();
  const auto start = std::chrono::steady_clock::now();
  int status = exit_ok;
  std::string stop_reason = "Ctrl-C";
  std::uint64_t resizes = 0;  // made, not only decided (a resize may fail when the app exits)
  for (std::uint64_t done = 0; options.count == 0 || done < options.count; ++done) {
    if (interrupted.load(std::memory_order_relaxed)) break;  // relaxed: a flag, nothing published with it
    auto features = opened->session->next(policy->interval);
    if (!features) {
      const bool pid_exited = target.cgroup.empty() && features.error().code.value() == ESRCH;
      stop_reason = features.error().message;
      status = pid_exited ? exit_ok : exit_failure;
      break;
    }
    if (!target.cgroup.empty() && features->watched_tgids == 0) {
      stop_reason = fmt::format("cgroup {} has no process left", options.cgroup);
      break;
    }
    const std::string phase = model ? model->classes()[model->predict(fluid::classifier_input(*features))]
                                    : (cpu_demand(*features) < idle_cpu_demand ? "idle" : "compute");
    const unsigned wanted = policy->cpus_for(phase);
    const auto now = std::chrono::steady_clock::now();
    const auto decision = governor->decide(wanted, now);
    std::optional<fluid::ActuationTiming> timing;
    if (decision.changed()) {
      auto resized = actuator->resize(decision.cpus);
      if (!resized) {
        // ESRCH: the application exited after this interval was measured,
        // an end like "no process left"; anything else is a failure.
        const bool application_exited = resized.error().code.value() == ESRCH;
        stop_reason = application_exited ? resized.error().message : resized.error().describe();
        status = application_exited ? exit_ok : exit_failure;
        break;
      }
      timing = resized->timing;
      ++resizes;
    }
    const double at_s = std::chrono::duration<double>(now - start).count();
    std::string line = fmt::format("{:8.2f}s phase={:<8} cpus={} ({}) wanted={} {}", at_s, phase, actuator->cpus().size(),
                                   format_cpu_list(actuator->cpus()), decision.wanted, fluid::outcome_name(decision.outcome));
    if (timing) {
      line += fmt::format(" | write {} affinity {} running {}{}", duration_text(timing->write),
                          duration_text(timing->affinity), duration_text(timing->running),
                          timing->settled ? "" : " (not settled)");
    }
    fmt::print("{}\n", line);
    std::fflush(stdout);
    if (log.is_open()) {
      nlohmann::json entry = {{"t_s", at_s},
                              {"phase", phase},
                              {"wanted", decision.wanted},
                              {"cpus", actuator->cpus().size()},
                              {"cpu_list", format_cpu_list(actuator->cpus())},
                              {"decision", fluid::outcome_name(decision.outcome)},
                              {"features", fluid::to_json(*features)}};
      if (timing) {
        entry["actuation"] = {{"write_ns", timing->write.count()},
                              {"affinity_ns", timing->affinity.count()},
                              {"running_ns", timing->running.count()},
                              {"threads", timing->threads},
                              {"settled", timing->settled}};
      }
      log << entry.dump() << '\n' << std::flush;  // one object per line, complete even if killed
    }
    if (done + 1 == options.count) stop_reason = fmt::format("{} intervals done", options.count);
  }
  // The resizes so far are whole: the journal says so and stays for revert.
  if (auto finished = actuator->finish(); !finished) {
    fmt::print(stderr, "aether fluid run: {}\n", finished.error().describe());
    status = exit_failure;
  }
  fmt::print(stderr, "aether fluid run: {}; stopping after {} resizes. The cpuset keeps CPUs {}; `aether partition "
                     "revert --journal {}` restores the ones it had before\n",
             stop_reason, resizes, format_cpu_list(actuator->cpus()), actuator->journal_path().native());
  return status;
}

#else

int run_fluid_run(const FluidRunOptions&) { return fluid_missing("run"); }

#endif

}  // namespace

void register_fluid_run(CLI::App& fluid_command, int& exit_code) {
  auto options = std::make_shared<FluidRunOptions>();
  CLI::App* run = fluid_command.add_subcommand(
      "run",
      "The fluid partition: watch an application, classify its phase each interval and resize its cpuset's CPUs "
      "under a policy, every write journaled for `aether partition revert`. Needs root.");
  run->add_option("--policy", options->policy_path, "Policy file (TOML; docs/fluid.md \"Policies\")")->required();
  auto* cgroup = run->add_option("--cgroup", options->cgroup, "The application's cpuset cgroup directory");
  auto* pid = run->add_option("--pid", options->pid, "The application's pid (its cpuset cgroup is resized)")
                  ->check(CLI::PositiveNumber);
  cgroup->excludes(pid);
  pid->excludes(cgroup);
  run->add_option("--model", options->model_path, "Phase classifier (aether fluid train); default: idle/compute by CPU demand");
  run->add_option("--cpus", options->cpus, "The pool of CPUs it may hold (default: its parent cpuset's)");
  run->add_option("--journal", options->journal_path,
                  fmt::format("The journal (default: the partition's, {}, when it exists, else {})",
                              partition::default_journal_path, fluid_journal_path));
  run->add_option("--log", options->log_path, "Decision log: one JSON object per interval with the features");
  run->add_option("--count", options->count, "Stop after this many intervals (default: until the target ends or Ctrl-C)");
  run->callback([options, run, &exit_code] {
    if (run->count("--pid") == 0 && run->count("--cgroup") == 0) {
      fmt::print(stderr, "aether fluid run: give --cgroup PATH or --pid N\n");
      exit_code = exit_failure;
      return;
    }
    exit_code = run_fluid_run(*options);
  });
}

}  // namespace aether::cli
