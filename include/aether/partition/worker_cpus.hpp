// `--partition` of the data-plane commands (aether echo, fwd, bench): which
// CPUs their workers take, and the cpuset the process must join to run there.
//
// The Aether CPUs come from, in this order:
//   1. the apply journal: the partition `aether partition apply` made (its
//      header line "cpus LIST"); an apply that did not finish, or a journal
//      of another boot (journal_boot_mismatch: the reboot undid it), is
//      refused;
//   2. /sys/devices/system/cpu/isolated (isolcpus= domain CPUs);
//   3. /sys/devices/system/cpu/nohz_full;
// offline CPUs left out. Else an Error says how to make a partition.
//
// When apply made a cpuset for them (apply_cpuset.cpp: <cgroup2>/aether, an
// isolated partition, or <cpuset v1>/aether, exclusive), no task outside that
// cpuset may run on them: cgroup v2 takes a partition's CPUs out of its
// parent's cpuset.cpus.effective, and in v1 the other cpusets lost them, so
// sched_setaffinity() to an Aether CPU fails with EINVAL until the task joins
// (kernel/cgroup/cpuset.c, cpuset_cpus_allowed()). The whole process joins:
// cgroup v2 moves threads one by one only between threaded cgroups
// (cgroup-v2.rst, "Threads"), which the partition is not.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/partition/host_access.hpp"
#include "aether/partition/journal.hpp"

namespace aether::partition {

struct WorkerCpuRequest {
  std::size_t workers = 1;  // CPUs needed, one per worker thread
  // CPUs named on the command line as well (--cpu/--cpus); each must be an
  // Aether CPU. Empty: the first `workers` Aether CPUs.
  std::vector<unsigned> requested;
  std::string requested_option = "--cpu";  // names the option in errors
  std::filesystem::path journal_path = default_journal_path;
};

struct WorkerPlacement {
  std::vector<unsigned> aether_cpus;  // every online Aether CPU, sorted
  std::string source;                 // where they came from, e.g. "the apply journal /var/lib/..."
  std::vector<unsigned> worker_cpus;  // one per worker, in the order asked
  // The partition's cpuset (logical cgroup directory) the process must join
  // before its workers can run on the Aether CPUs; none when apply made no
  // cpuset (boot isolation did its job) or the CPUs come from the kernel.
  std::optional<std::string> cpuset;
  // The partition asks the workers' process to hold /dev/cpu_dma_latency at
  // this many microseconds while it runs (the apply journal's `hold`
  // record); none when the CPUs come from the kernel or apply was told
  // --keep-idle-states.
  std::optional<std::int32_t> cpu_dma_latency_us;
  std::vector<std::string> notes;  // worth telling the user (offline CPUs, load balancing left on, ...)
};

// Finds the Aether CPUs (see above) and picks the workers' CPUs. Errors:
// no Aether CPUs (names where it looked and the commands that make a
// partition), an unfinished apply, an unreadable journal, fewer Aether CPUs
// than workers, a requested CPU that is not an Aether CPU.
Result<WorkerPlacement> aether_cpus_for_workers(const HostAccess& host, const WorkerCpuRequest& request);

// Moves process `pid` (all its threads) into `placement.cpuset` by writing
// its cgroup.procs; nothing when there is none. The kernel then limits every
// thread of it to the Aether CPUs, and threads created later inherit that.
// Needs root; the Error names the file and the errno.
Result<void> join_partition_cpuset(HostAccess& host, const WorkerPlacement& placement, pid_t pid);

// One line for people: "worker CPUs 2 of the Aether CPUs 2-3 (from ...)".
std::string describe_placement(const WorkerPlacement& placement);

}  // namespace aether::partition
