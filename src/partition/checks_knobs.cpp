// Status checks of knobs: RT throttling, timer migration, vmstat, THP, huge
// pages, cpufreq, cpuidle, IOMMU.
#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/core/thread_setup.hpp"
#include "aether/partition/journal_targets.hpp"
#include "checks.hpp"
#include "cpu_set_ops.hpp"

namespace aether::partition::detail {
namespace {

Check rt_check(const StatusInputs& in) {
  Check check{"rt-throttling", CheckLevel::ok, {}, {}, {}};
  const auto& runtime = in.knobs.rt_runtime_us;
  if (!runtime) {
    check.level = CheckLevel::info;
    check.finding = "/proc/sys/kernel/sched_rt_runtime_us absent";
    return check;
  }
  if (*runtime < 0) {
    check.finding = "off (kernel.sched_rt_runtime_us = -1)";
    return check;
  }
  const int period = in.knobs.rt_period_us.value_or(1000000);
  if (!rt_throttling_on(*runtime, period)) {
    check.finding = fmt::format("off (kernel.sched_rt_runtime_us = {} covers the whole {} us period)", *runtime, period);
    return check;
  }
  check.level = CheckLevel::warn;
  check.finding = fmt::format("on: SCHED_FIFO threads get {} us of every {} us", *runtime, period);
  check.details.push_back(
      fmt::format("a SCHED_FIFO poller is stopped for {} us each period "
                  "(Documentation/scheduler/sched-rt-group.rst)",
                  period - *runtime));
  check.fix =
      "aether partition apply (sets it to -1, journaled), or sysctl -w kernel.sched_rt_runtime_us=-1 (nothing "
      "else RT may then spin on the host CPUs)";
  return check;
}

Check timer_migration_check(const StatusInputs& in) {
  Check check{"timer-migration", CheckLevel::ok, {}, {}, {}};
  const auto& value = in.knobs.timer_migration;
  if (!value) {
    check.level = CheckLevel::info;
    check.finding = "/proc/sys/kernel/timer_migration absent";
    return check;
  }
  check.finding = fmt::format("kernel.timer_migration = {}", *value);
  if (*value == 0 || in.aether.empty()) {
    if (in.aether.empty()) check.level = CheckLevel::info;
    return check;
  }
  const bool all_nohz_full = cpu_subset(in.aether, in.cpus.nohz_full);
  const bool excluded_by_partition =
      partitions_exclude_timer_migration(in.kernel) && cpu_subset(in.aether, in.cpuset_isolated);
  if (all_nohz_full || excluded_by_partition) {
    check.details.push_back(all_nohz_full ? "nohz_full CPUs are not given other CPUs' timers"
                                          : "this kernel (6.19+) keeps isolated partitions out of timer migration");
    return check;
  }
  check.level = CheckLevel::warn;
  if (has_timer_migration_hierarchy(in.kernel)) {
    check.details.push_back(fmt::format(
        "on {} (6.9 to 6.18) an isolated but not nohz_full CPU can be the migrator that expires idle CPUs' timers",
        in.kernel.short_text()));
  } else {
    check.details.push_back("timers armed on idle CPUs may be moved to a busy (polling) Aether CPU");
  }
  check.fix = "aether partition apply (journaled), or sysctl -w kernel.timer_migration=0";
  return check;
}

Check stat_interval_check(const StatusInputs& in) {
  Check check{"vm.stat_interval", CheckLevel::ok, {}, {}, {}};
  const auto& value = in.knobs.stat_interval;
  if (!value) {
    check.level = CheckLevel::info;
    check.finding = "/proc/sys/vm/stat_interval absent";
    return check;
  }
  check.finding = fmt::format("vm.stat_interval = {} s", *value);
  if (*value >= quiet_stat_interval_s || in.aether.empty()) {
    if (in.aether.empty()) check.level = CheckLevel::info;
    return check;
  }
  const bool skipped = cpu_subset(in.aether, cpu_union(in.cpus.nohz_full, in.cpus.isolated)) ||
                       (partitions_exclude_workqueues(in.kernel) && cpu_subset(in.aether, in.cpuset_isolated));
  check.level = skipped ? CheckLevel::info : CheckLevel::warn;
  check.details.push_back(skipped ? "the vmstat shepherd skips isolated CPUs; a longer interval still helps the host"
                                  : "per-CPU vmstat_update work runs this often on CPUs whose counters changed");
  check.fix = fmt::format("aether partition apply (journaled), or sysctl -w vm.stat_interval={} (as tuned's "
                          "network-latency profile)",
                          quiet_stat_interval_s);
  return check;
}

Check thp_check(const StatusInputs& in) {
  Check check{"thp", CheckLevel::ok, {}, {}, {}};
  if (!in.knobs.thp_enabled) {
    check.level = CheckLevel::info;
    check.finding = "transparent huge pages not built in";
    return check;
  }
  check.finding = fmt::format("transparent_hugepage/enabled = {}", *in.knobs.thp_enabled);
  if (*in.knobs.thp_enabled == "always") {
    check.level = CheckLevel::warn;
    check.details.push_back("page faults may compact memory and khugepaged collapses pages behind every task's back");
    check.fix = "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled";
  }
  return check;
}

Check huge_pages_check(const StatusInputs& in) {
  Check check{"hugepages", CheckLevel::ok, {}, {}, {}};
  std::vector<std::string> pools;
  std::uint64_t reserved = 0;
  for (const HugePagePool& pool : in.knobs.huge_pages) {
    pools.push_back(fmt::format("{} kB: {} reserved, {} free", pool.page_kib, pool.total, pool.free));
    reserved += pool.total;
  }
  if (pools.empty()) {
    check.level = CheckLevel::info;
    check.finding = "no hugetlb support (/sys/kernel/mm/hugepages absent)";
    return check;
  }
  check.finding = name_some(pools, pools.size());
  if (reserved == 0) {
    check.level = in.aether.empty() ? CheckLevel::info : CheckLevel::warn;
    check.details.push_back("no huge pages reserved: packet buffers fall back to 4 KiB pages and their TLB misses");
    check.fix = "sysctl -w vm.nr_hugepages=512, or aether partition apply --hugepages 512";
  }
  return check;
}

Check cpufreq_check(const StatusInputs& in) {
  Check check{"cpufreq", CheckLevel::ok, {}, {}, {}};
  std::vector<unsigned> not_performance, governed;
  std::string governors;
  for (const CpuPower& power : in.knobs.cpu_power) {
    if (!power.governor) continue;
    governed.push_back(power.cpu);
    if (*power.governor != "performance") {
      not_performance.push_back(power.cpu);
      check.details.push_back(fmt::format("CPU {}: {}", power.cpu, *power.governor));
    }
  }
  const std::string which = in.aether.empty() ? "online CPUs" : "Aether CPUs";
  if (governed.empty()) {
    check.level = CheckLevel::info;
    check.finding =
        fmt::format("no cpufreq on the {} (the kernel does not scale their frequency, e.g. in a VM)", which);
    return check;
  }
  if (not_performance.empty()) {
    check.finding = fmt::format("governor performance on the {}", which);
    return check;
  }
  check.level = in.aether.empty() ? CheckLevel::info : CheckLevel::warn;
  check.finding = fmt::format("CPUs {} not on the performance governor", format_cpu_list(not_performance));
  check.fix = fmt::format(
      "cpupower -c {} frequency-set -g performance (or echo performance > "
      "/sys/devices/system/cpu/cpuN/cpufreq/scaling_governor)",
      format_cpu_list(not_performance));
  return check;
}

// Whether the journal in effect asks --partition workers to hold
// /dev/cpu_dma_latency, and at what.
std::optional<std::string> latency_hold(const StatusInputs& in) {
  if (!in.journal || in.journal_other_boot) return std::nullopt;
  for (const JournalRecord& record : in.journal->records) {
    if (record.kind == JournalRecordKind::hold) return record.previous;
  }
  return std::nullopt;
}

Check cpuidle_check(const StatusInputs& in) {
  Check check{"cpuidle", CheckLevel::info, {}, {}, {}};
  check.finding = fmt::format("driver {}, governor {}", in.knobs.cpuidle_driver.value_or("none"),
                              in.knobs.cpuidle_governor.value_or("none"));
  // A busy-polling worker never idles; one that sleeps on an interrupt pays
  // the exit latency of the state it slept in at every wake-up.
  std::vector<std::string> deep;
  bool any_state = false;
  for (const CpuPower& power : in.knobs.cpu_power) {
    for (std::size_t state = 0; state < power.idle_states.size(); ++state) {
      any_state = true;
      const IdleState& idle = power.idle_states[state];
      if (!idle.disabled && idle.exit_latency_us > deep_idle_exit_latency_us) {
        deep.push_back(fmt::format("CPU {} state{} {} ({} us)", power.cpu, state, idle.name, idle.exit_latency_us));
      }
    }
  }
  if (!in.knobs.cpu_power.empty() && !in.knobs.cpu_power.front().idle_states.empty()) {
    std::vector<std::string> states;
    for (const IdleState& idle : in.knobs.cpu_power.front().idle_states) {
      states.push_back(fmt::format("{} {} us{}", idle.name, idle.exit_latency_us, idle.disabled ? " (disabled)" : ""));
    }
    check.details.push_back(
        fmt::format("CPU {} idle states: {}", in.knobs.cpu_power.front().cpu, name_some(states, 8)));
  }
  if (const auto hold = latency_hold(in)) {
    check.details.push_back(fmt::format("the apply journal asks --partition workers to hold {} at {} while they run",
                                        cpu_dma_latency_path, *hold));
  }
  if (!deep.empty()) {
    check.details.push_back(fmt::format("enabled states slower than {} us to leave: {}", deep_idle_exit_latency_us,
                                        name_some(deep, 4)));
    check.fix =
        "aether partition apply (disables them on the Aether CPUs, journaled), or echo 1 > "
        "/sys/devices/system/cpu/cpuN/cpuidle/stateK/disable; polling workers never idle, sleeping ones "
        "(wait=block) pay the exit latency at every wake-up";
    if (!in.aether.empty()) check.level = CheckLevel::warn;
  } else if (!in.aether.empty() && any_state) {
    check.level = CheckLevel::ok;
    check.details.push_back(
        fmt::format("no state slower than {} us to leave is enabled on the Aether CPUs", deep_idle_exit_latency_us));
  } else if (!in.aether.empty()) {
    check.details.push_back("no cpuidle states on the Aether CPUs: they idle as the architecture does (x86: hlt)");
  }
  return check;
}

Check iommu_check(const StatusInputs& in) {
  Check check{"iommu", CheckLevel::info, {}, {}, {}};
  const auto& groups = in.knobs.iommu_groups;
  if (groups && *groups > 0) {
    check.level = CheckLevel::ok;
    check.finding =
        fmt::format("on: {} IOMMU groups{}", *groups,
                    in.knobs.iommus.empty() ? std::string() : fmt::format(" ({})", name_some(in.knobs.iommus, 4)));
    return check;
  }
  check.finding = "off or absent: no IOMMU groups";
  check.details.push_back("VFIO device access needs an IOMMU (or vfio's unsafe no-IOMMU mode)");
  check.fix = "boot with intel_iommu=on iommu=pt (AMD: amd_iommu=on iommu=pt) if you use VFIO";
  return check;
}

}  // namespace

void check_knobs(const StatusInputs& inputs, std::vector<Check>& checks) {
  checks.push_back(rt_check(inputs));
  checks.push_back(timer_migration_check(inputs));
  checks.push_back(stat_interval_check(inputs));
  checks.push_back(thp_check(inputs));
  checks.push_back(huge_pages_check(inputs));
  checks.push_back(cpufreq_check(inputs));
  checks.push_back(cpuidle_check(inputs));
  checks.push_back(iommu_check(inputs));
}

}  // namespace aether::partition::detail
