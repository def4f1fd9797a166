// The sysctls and sysfs settings besides the CPU lists that decide how much
// the kernel disturbs a CPU. Each field is std::nullopt / empty when the file
// is absent (kernel option not built, no cpufreq in a VM, ...).
//
// Sources: Documentation/admin-guide/sysctl/kernel.rst (timer_migration),
// sysctl/vm.rst (stat_interval, nr_hugepages), scheduler/sched-rt-group.rst
// (sched_rt_runtime_us), admin-guide/mm/transhuge.rst,
// admin-guide/mm/hugetlbpage.rst, admin-guide/pm/cpufreq.rst,
// admin-guide/pm/cpuidle.rst, ABI/testing/sysfs-kernel-iommu_groups, and for
// the workqueue cpumask kernel/workqueue.c (wq_unbound_cpumask; the
// cpumask_requested and cpumask_isolated files exist from v6.8).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aether/partition/host_access.hpp"

namespace aether::partition {

// Idle states slower than this to leave are "deep": `apply` disables them
// on the Aether CPUs and `status` warns about them there. POLL (0 us) and C1
// (1-2 us: intel_idle's tables, ACPI C1) stay; C1E (10 us), C6 (100+ us) go.
// A busy-polling worker never idles; one that sleeps on an interrupt
// (wait=block, mode=interrupt) pays the exit latency on every wake-up.
inline constexpr std::uint64_t deep_idle_exit_latency_us = 2;

// vm.stat_interval `apply` sets when it is shorter: the per-CPU vmstat
// update runs every 10 s instead of every second (sysctl/vm.rst; tuned's
// network-latency profile uses the same value).
inline constexpr int quiet_stat_interval_s = 10;

// The knobs `apply` leaves alone when asked (apply.hpp step 0, plan).
struct KnobChoices {
  // Leave kernel.sched_rt_runtime_us as it is (RT throttling stays on).
  bool keep_rt_throttling = false;
  // Leave the cpuidle states of the Aether CPUs, and /dev/cpu_dma_latency,
  // alone.
  bool keep_idle_states = false;
};

struct HugePagePool {
  std::uint64_t page_kib = 0;  // from the directory name hugepages-<size>kB
  std::uint64_t total = 0;     // nr_hugepages
  std::uint64_t free = 0;      // free_hugepages
};

struct IdleState {
  std::string name;
  std::uint64_t exit_latency_us = 0;  // "latency"
  bool disabled = false;
};

struct CpuPower {
  unsigned cpu = 0;
  std::optional<std::string> governor;  // cpufreq scaling_governor
  std::vector<IdleState> idle_states;
};

struct WorkqueueMask {
  std::vector<unsigned> effective;                 // cpumask
  std::optional<std::vector<unsigned>> requested;  // cpumask_requested (v6.8+)
  std::optional<std::vector<unsigned>> isolated;   // cpumask_isolated (v6.8+)
};

struct HostKnobs {
  std::optional<int> rt_runtime_us;        // kernel.sched_rt_runtime_us; -1: no RT throttling
  std::optional<int> rt_period_us;         // kernel.sched_rt_period_us
  std::optional<int> timer_migration;      // kernel.timer_migration (CONFIG_NO_HZ_COMMON)
  std::optional<int> stat_interval;        // vm.stat_interval, seconds
  std::optional<std::string> thp_enabled;  // the [selected] word of transparent_hugepage/enabled
  std::vector<HugePagePool> huge_pages;    // by page size
  std::optional<std::string> cpuidle_driver;
  std::optional<std::string> cpuidle_governor;
  std::vector<CpuPower> cpu_power;         // for the CPUs asked for
  std::optional<WorkqueueMask> workqueue;  // /sys/devices/virtual/workqueue
  std::optional<unsigned> iommu_groups;    // entries of /sys/kernel/iommu_groups; nullopt if absent
  std::vector<std::string> iommus;         // /sys/class/iommu entries (dmar0, ivhd0, ...)
};

// Reads all of the above; `cpus` are those whose cpufreq/cpuidle is wanted.
HostKnobs read_host_knobs(const HostAccess& host, const std::vector<unsigned>& cpus);

// "always [madvise] never" -> "madvise"; the whole text if nothing is bracketed.
std::string selected_word(std::string_view text);

}  // namespace aether::partition
