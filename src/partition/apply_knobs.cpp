// Step 0 of `aether partition apply` (apply.hpp): the knobs besides the CPU
// masks that decide the tail of a worker on an Aether CPU. Each previous
// value is journaled by change_file before it is written, so revert (also
// after a kill -9 here) puts it back.
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/journal_targets.hpp"
#include "aether/partition/knobs.hpp"
#include "apply_context.hpp"

namespace aether::partition::detail {
namespace {

std::optional<long> read_long(const HostAccess& host, const std::string& path) {
  const auto text = host.read_trimmed(path);
  if (!text) return std::nullopt;
  long value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (text->empty() || error != std::errc{} || end != text->data() + text->size()) return std::nullopt;
  return value;
}

// Sets sysctl `name` (at `path`) to `value` where the kernel has it; one
// report line either way.
Result<void> set_sysctl(ApplyContext& context, const std::string& path, std::string_view name, long value,
                        std::string_view why) {
  const auto current = read_long(context.host, path);
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

// Disables every idle state of the Aether CPUs slower than
// deep_idle_exit_latency_us to leave (admin-guide/pm/cpuidle.rst, "disable").
Result<void> disable_deep_idle_states(ApplyContext& context) {
  std::vector<std::string> disabled;
  bool any_state = false;
  for (unsigned cpu : context.aether) {
    for (unsigned state = 0;; ++state) {
      const std::string directory = fmt::format("/sys/devices/system/cpu/cpu{}/cpuidle/state{}", cpu, state);
      const auto name = context.host.read_trimmed(directory + "/name");
      if (!name) break;
      any_state = true;
      const auto latency = read_long(context.host, directory + "/latency");
      const std::string disable = directory + "/disable";
      if (!latency || *latency <= static_cast<long>(deep_idle_exit_latency_us) || !context.host.exists(disable)) {
        continue;
      }
      const bool was_enabled = context.host.read_trimmed(disable).value_or("1") == "0";
      if (auto changed = context.change_file(disable, "1"); !changed) return changed;
      if (was_enabled) {
        ++context.report.idle_states_disabled;
        disabled.push_back(fmt::format("CPU {} {} ({} us)", cpu, *name, *latency));
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
  if (choices.keep_rt_throttling) {
    context.report.done.push_back(
        "kernel.sched_rt_runtime_us left as it is (--keep-rt-throttling): SCHED_FIFO workers stop for the rest of "
        "each period once they used their runtime");
  } else if (auto done = set_sysctl(context, "/proc/sys/kernel/sched_rt_runtime_us", "kernel.sched_rt_runtime_us",
                                    -1, "no RT throttling: a SCHED_FIFO poller is never stopped ~50 ms a second");
             !done) {
    return done;
  }
  if (auto done = set_sysctl(context, "/proc/sys/kernel/timer_migration", "kernel.timer_migration", 0,
                             "timers stay on the CPU that armed them");
      !done) {
    return done;
  }
  constexpr const char* stat_interval = "/proc/sys/vm/stat_interval";
  if (const auto current = read_long(context.host, stat_interval); current && *current > quiet_stat_interval_s) {
    context.report.done.push_back(fmt::format("vm.stat_interval = {} s already (at least {})", *current,
                                              quiet_stat_interval_s));
  } else if (auto done = set_sysctl(context, stat_interval, "vm.stat_interval", quiet_stat_interval_s,
                                    "per-CPU vmstat work every 10 s instead of every second");
             !done) {
    return done;
  }
  if (choices.keep_idle_states) {
    context.report.done.push_back(
        "idle states and /dev/cpu_dma_latency left as they are (--keep-idle-states)");
    return {};
  }
  if (auto done = disable_deep_idle_states(context); !done) return done;
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
