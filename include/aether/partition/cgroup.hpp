// cpuset cgroups: where they are mounted and which CPUs they take out of
// scheduler load balancing.
//
// cgroup v2 (Documentation/admin-guide/cgroup-v2.rst, "Cpuset"): a non-root
// cgroup's cpuset.cpus.partition reads "member", "root", "isolated" (v6.1+),
// or "root invalid (<reason>)" / "isolated invalid (<reason>)". An isolated
// partition's CPUs have no load balancing. The root's cpuset.cpus.isolated
// (v6.8 as ".__DEBUG__.cpuset.cpus.isolated" with cgroup_debug; later without
// prefix, commit 877c737db935) lists the CPUs of all isolated partitions.
//
// cgroup v1 (Documentation/admin-guide/cgroup-v1/cpusets.rst, section 1.7):
// load balancing is off for a CPU only when no cpuset with
// cpuset.sched_load_balance=1 contains it, so the top cpuset must have it 0.
//
// Mounts come from /proc/self/mountinfo (proc(5)): fields "id parent
// major:minor root mount-point options [optional...] - fstype source
// super-options", with octal escapes (\040) in paths.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/partition/host_access.hpp"

namespace aether::partition {

struct CgroupMounts {
  std::optional<std::string> v1_cpuset;  // a "cgroup" mount whose super options include "cpuset"
  std::optional<std::string> v2;         // the first "cgroup2" mount
  bool v2_has_cpuset = false;            // "cpuset" in the v2 root's cgroup.controllers
};

// Parses mountinfo text (no I/O; `v2_has_cpuset` is left false).
CgroupMounts parse_mountinfo(std::string_view text);

// Reads /proc/self/mountinfo and the v2 root's cgroup.controllers.
CgroupMounts find_cgroup_mounts(const HostAccess& host);

struct CpusetPartition {
  std::string path;            // logical path of the cgroup directory
  std::string state;           // cpuset.cpus.partition as read, e.g. "isolated invalid (...)"
  std::vector<unsigned> cpus;  // cpuset.cpus.effective
  bool isolated = false;       // state "isolated"
  bool valid = false;          // not "... invalid ..."
};

struct CpusetV1 {
  std::string path;
  std::vector<unsigned> cpus;  // cpuset.cpus
  bool cpu_exclusive = false;
  bool load_balance = true;  // cpuset.sched_load_balance
  unsigned task_count = 0;   // lines of `tasks`
};

struct CpusetState {
  CgroupMounts mounts;
  // cgroup v2
  std::vector<CpusetPartition> partitions;           // cgroups whose partition is not "member"
  std::optional<std::vector<unsigned>> v2_isolated;  // root cpuset.cpus.isolated, if the kernel has it
  // cgroup v1
  std::optional<CpusetV1> v1_root;
  std::vector<CpusetV1> v1_children;  // every cpuset below the root
  unsigned directories_skipped = 0;   // beyond the walk's depth or count limit

  // CPUs without scheduler load balancing because of cpusets: valid isolated
  // v2 partitions, or v1 CPUs outside every load-balanced cpuset.
  [[nodiscard]] std::vector<unsigned> isolated_cpus() const;
};

// The cgroup directories below `root` (not `root` itself), parents before
// their children, at most 8 levels and 4096 directories deep; `skipped`
// counts what the limits left out.
std::vector<std::string> list_cgroups(const HostAccess& host, const std::string& root, unsigned& skipped);

// The ids in a cgroup member file (`tasks`: thread ids, `cgroup.procs`:
// process ids), sorted; empty if the file is absent.
std::vector<pid_t> read_cgroup_members(const HostAccess& host, const std::string& file);

// Walks the cpuset hierarchies (depth <= 8, at most 4096 directories each).
// Unreadable or malformed files are skipped rather than fatal: this is a
// report of what can be seen.
CpusetState read_cpuset_state(const HostAccess& host);

}  // namespace aether::partition
