// What `revert` may write: only the knob families `apply` changes. Root
// writes whatever a journal names, and a journal is a file that someone
// else may have written (a --journal in a shared directory, a tampered
// /var/lib/aether), so every record is checked before anything is undone:
//
//   file        /proc/irq/default_smp_affinity; the /proc/sys knobs of
//               partition_sysctls (not /proc/sys as a whole: core_pattern,
//               modprobe and the like run programs as root);
//               /sys/devices/system/cpu/..., /sys/devices/virtual/workqueue/...,
//               /sys/kernel/mm/hugepages/..., /sys/kernel/mm/transparent_hugepage/...;
//               and cpuset.* files below a cgroup mount (cgroup v2, or the v1
//               cpuset hierarchy; not release_agent, notify_on_release, ...)
//   irq         /proc/irq/N/smp_affinity_list or smp_affinity
//   directory   a directory strictly below a cgroup mount
//   controller  <cgroup v2 mount>[/...]/cgroup.subtree_control, a controller
//               name of [a-z_] only
//   affinity    a TID above 0
//   hold        /dev/cpu_dma_latency, a value of digits (microseconds)
//
// Every path is absolute, without NUL, empty, "." or ".." components; a
// value holds no NUL (the kernel would cut it there).
#pragma once

#include "aether/core/result.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/journal.hpp"

namespace aether::partition {

// The PM QoS device --partition workers hold while they run
// (Documentation/power/pm_qos_interface.rst).
inline constexpr const char* cpu_dma_latency_path = "/dev/cpu_dma_latency";

// The /proc/sys files a journal may restore.
inline constexpr const char* partition_sysctls[] = {
    "/proc/sys/vm/nr_hugepages",           "/proc/sys/vm/stat_interval",
    "/proc/sys/kernel/sched_rt_runtime_us", "/proc/sys/kernel/sched_rt_period_us",
    "/proc/sys/kernel/timer_migration",
};

// Ok when `record` names a target listed above, with `mounts` the host's
// cgroup mounts; else an Error (invalid_argument) quoting the path and why.
Result<void> check_journal_target(const JournalRecord& record, const CgroupMounts& mounts);

}  // namespace aether::partition
