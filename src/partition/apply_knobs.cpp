// Step 0 of `aether partition apply` (apply.hpp): the knobs besides the CPU
// masks that decide the tail of a worker on an Aether CPU. Each previous
// value is journaled by change_file before it is written, so revert (also
// after a kill -9 here) puts it back.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/journal_targets.hpp"
#include "aether/partition/knobs.hpp"
#include "apply_context.hpp"

namespace aether::partition::detail {
namespace {

// Sets sysctl `name` (at `path`, now `current`: read_host_knobs) to `value`
// where the kernel has it; one report line either way.
Result<void> set_sysctl(ApplyContext& context, const std::string& path, std::string_view name,
                        std::optional<int> current, int value, std::string_view why) {
  if (!current) {
    context.report.done.push_back(fmt::format("{}: not in this kernel ({} absent or unreadable)", name, path));
    return {};
  }
  if (*current == value) {
    context.report.done.push_back(fmt::format("{} = {} already", name, value));
    return {};
  }
  if (auto changed = context.change_file(path, std::to_string(value)); !changed) return changed;
  context.report.done.push_back(fmt::format("{} = {} (was {}): {}", name, value, *current, why));
  return {};
}

// Disables every idle state of the Aether CPUs (`power`: read_host_knobs)
// slower than deep_idle_exit_latency_us to leave (admin-guide/pm/cpuidle.rst,
// "disable").
Result<void> disable_deep_idle_states(ApplyContext& context, const std::vector<CpuPower>& power) {
  std::vector<std::string> disabled;
  bool any_state = false;
  for (const CpuPower& cpu : power) {
    for (std::size_t state = 0; state < cpu.idle_states.size(); ++state) {
      any_state = true;
      const IdleState& idle = cpu.idle_states[state];
      const std::string disable =
          fmt::format("/sys/devices/system/cpu/cpu{}/cpuidle/state{}/disable", cpu.cpu, state);
      if (idle.exit_latency_us <= deep_idle_exit_latency_us || !context.host.exists(disable)) continue;
      if (auto changed = context.change_file(disable, "1"); !changed) return changed;
      if (!idle.disabled) {
        ++context.report.idle_states_disabled;
        disabled.push_back(fmt::format("CPU {} {} ({} us)", cpu.cpu, idle.name, idle.exit_latency_us));
      }
    }
  }
  const std::string cpus = format_cpu_list(context.aether);
  if (!any_state) {
    context.report.done.push_back(
        fmt::format("no cpuidle states on CPUs {} (no cpuidle driver, e.g. in a VM): none to disable", cpus));
  } else if (disabled.empty()) {
    context.report.done.push_back(
        fmt::format("no idle state slower than {} us to leave is enabled on CPUs {}", deep_idle_exit_latency_us, cpus));
  } else {
    context.report.done.push_back(fmt::format("disabled idle states slower than {} us to leave on CPUs {}: {}",
                                              deep_idle_exit_latency_us, cpus, fmt::join(disabled, ", ")));
  }
  return {};
}

}  // namespace

Result<void> apply_knobs(ApplyContext& context, const KnobChoices& choices) {
  const HostKnobs knobs = read_host_knobs(context.host, context.aether);
  if (choices.keep_rt_throttling) {
    context.report.done.push_back(
        "kernel.sched_rt_runtime_us left as it is (--keep-rt-throttling): SCHED_FIFO workers stop for the rest of "
        "each period once they used their runtime");
  } else if (auto done = set_sysctl(context, "/proc/sys/kernel/sched_rt_runtime_us", "kernel.sched_rt_runtime_us",
                                    knobs.rt_runtime_us, -1, "no RT throttling: a SCHED_FIFO poller is never stopped ~50 ms a second");
             !done) {
    return done;
  }
  if (auto done = set_sysctl(context, "/proc/sys/kernel/timer_migration", "kernel.timer_migration",
                             knobs.timer_migration, 0,
                             "timers stay on the CPU that armed them");
      !done) {
    return done;
  }
  constexpr const char* stat_interval = "/proc/sys/vm/stat_interval";
  if (const auto& current = knobs.stat_interval; current && *current > quiet_stat_interval_s) {
    context.report.done.push_back(fmt::format("vm.stat_interval = {} s already (at least {})", *current,
                                              quiet_stat_interval_s));
  } else if (auto done = set_sysctl(context, stat_interval, "vm.stat_interval", knobs.stat_interval,
                                    quiet_stat_interval_s,
                                    "per-CPU vmstat work every 10 s instead of every second");
             !done) {
    return done;
  }
  if (choices.keep_idle_states) {
    context.report.done.push_back(
        "idle states and /dev/cpu_dma_latency left as they are (--keep-idle-states)");
    return {};
  }
  if (auto done = disable_deep_idle_states(context, knobs.cpu_power); !done) return done;
  // Not a kernel value: a request the --partition workers' processes make
  // while they run (runtime/placement.hpp), which ends with them.
  const JournalRecord hold{JournalRecordKind::hold, cpu_dma_latency_path, "0", 0, 0};
  if (!context.journal.knows(hold)) ++context.report.changes_journaled;
  if (auto journaled = context.journal.record(hold); !journaled) return journaled;
  context.report.done.push_back(
      fmt::format("--partition workers will hold {} at 0 while they run (no CPU idles deeper than polling then)",
                  cpu_dma_latency_path));
  return {};
}

}  // namespace aether::partition::detail
