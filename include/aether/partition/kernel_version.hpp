// The running kernel's version and the isolation features that depend on it.
//
// Status and plan gate on these where the kernel's behaviour changed; the
// facts and their sources are in ../shared/specs/kernel-partitioning-and-vfio.md
// section 4. Where a feature shows itself as a file (cpuset.cpus.isolated,
// workqueue/cpumask_isolated) the code looks for the file instead; the version
// gates below are for behaviour that has no file of its own.
#pragma once

#include <string>
#include <string_view>

#include "aether/core/result.hpp"
#include "aether/partition/host_access.hpp"

namespace aether::partition {

struct KernelVersion {
  unsigned major = 0;
  unsigned minor = 0;
  unsigned patch = 0;
  std::string release;  // /proc/sys/kernel/osrelease as read, e.g. "6.1.0-28-amd64"

  [[nodiscard]] bool at_least(unsigned wanted_major, unsigned wanted_minor) const noexcept {
    return major > wanted_major || (major == wanted_major && minor >= wanted_minor);
  }
  // "6.1.0"
  [[nodiscard]] std::string short_text() const;
};

// Parses the leading "major.minor[.patch]" of a release string ("6.18.44-fc",
// "7.0-rc1", "6.1.0-28-amd64"). The Error quotes the text.
Result<KernelVersion> parse_kernel_version(std::string_view release);

// Reads /proc/sys/kernel/osrelease.
Result<KernelVersion> read_kernel_version(const HostAccess& host);

// cgroup v2 partition value "isolated" (a partition without load balancing):
// v6.1, commit f28e22441f35 "cgroup/cpuset: Add a new isolated cpus.partition
// type". Before it only "root" exists, which still balances inside.
bool has_isolated_partitions(const KernelVersion& version) noexcept;

// cpuset.cpus.exclusive ("remote" partitions below a non-partition parent):
// v6.7, commit 0c7f293efc87.
bool has_remote_partitions(const KernelVersion& version) noexcept;

// CPUs of isolated partitions are taken out of the unbound-workqueue cpumask
// (and count for cpu_is_isolated(), so vmstat/memcg flushes skip them): v6.8,
// series "cgroup/cpuset: Improve CPU isolation in isolated partitions"
// (version inferred from its dates; RHEL MR 3611 backports the same). Before,
// apply writes /sys/devices/virtual/workqueue/cpumask itself.
bool partitions_exclude_workqueues(const KernelVersion& version) noexcept;

// The hierarchical timer-migration ("pull") model: v6.9, kernel/time/
// timer_migration.c. From then until v6.18 a CPU isolated by a cpuset but not
// nohz_full can be picked as the migrator that expires idle CPUs' timers.
bool has_timer_migration_hierarchy(const KernelVersion& version) noexcept;

// Isolated CPUs are dynamically excluded from the timer-migration hierarchy:
// v6.19 ("timers/migration: Exclude isolated cpus from hierarchy",
// timers-core-2025-11-30).
bool partitions_exclude_timer_migration(const KernelVersion& version) noexcept;

}  // namespace aether::partition
