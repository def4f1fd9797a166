// What revert may write (journal_targets.hpp): the knob families apply
// changes, below the host's cgroup mounts; nothing else.
#include "aether/partition/journal_targets.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace aether::partition {
namespace {

using ::testing::HasSubstr;

const CgroupMounts v2_mounts{std::nullopt, "/sys/fs/cgroup", true};
const CgroupMounts v1_mounts{"/dev/cpuset", "/sys/fs/cgroup/unified", false};

bool allowed(JournalRecordKind kind, const std::string& path, const CgroupMounts& mounts = v2_mounts,
             const std::string& previous = "1") {
  return check_journal_target(JournalRecord{kind, path, previous, 0, 0}, mounts).ok();
}

TEST(JournalTargets, WhatApplyWritesIsAllowed) {
  using enum JournalRecordKind;
  EXPECT_TRUE(allowed(file, "/proc/irq/default_smp_affinity"));
  EXPECT_TRUE(allowed(file, "/proc/sys/vm/nr_hugepages"));
  EXPECT_TRUE(allowed(file, "/proc/sys/kernel/sched_rt_runtime_us"));
  EXPECT_TRUE(allowed(file, "/sys/devices/virtual/workqueue/cpumask"));
  EXPECT_TRUE(allowed(file, "/sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"));
  EXPECT_TRUE(allowed(file, "/sys/kernel/mm/transparent_hugepage/enabled"));
  EXPECT_TRUE(allowed(file, "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"));
  EXPECT_TRUE(allowed(file, "/sys/fs/cgroup/system.slice/cpuset.cpus"));
  EXPECT_TRUE(allowed(file, "/sys/fs/cgroup/aether/cpuset.cpus.partition"));
  EXPECT_TRUE(allowed(file, "/dev/cpuset/cpuset.sched_load_balance", v1_mounts));
  EXPECT_TRUE(allowed(file, "/dev/cpuset/aether/cpuset.cpu_exclusive", v1_mounts));
  EXPECT_TRUE(allowed(irq, "/proc/irq/24/smp_affinity_list"));
  EXPECT_TRUE(allowed(directory, "/sys/fs/cgroup/aether"));
  EXPECT_TRUE(allowed(directory, "/dev/cpuset/aether-housekeeping", v1_mounts));
  EXPECT_TRUE(allowed(controller, "/sys/fs/cgroup/cgroup.subtree_control", v2_mounts, "cpuset"));
  EXPECT_TRUE(check_journal_target(JournalRecord{affinity, "", "0-3", 1234, 5}, v2_mounts).ok());
  EXPECT_TRUE(allowed(file, "/proc/sys/kernel/timer_migration"));
  EXPECT_TRUE(allowed(file, "/proc/sys/vm/stat_interval"));
  EXPECT_TRUE(allowed(file, "/sys/devices/system/cpu/cpu2/cpuidle/state3/disable"));
  EXPECT_TRUE(allowed(hold, "/dev/cpu_dma_latency", v2_mounts, "0"));
}

TEST(JournalTargets, EverythingElseIsRefused) {
  using enum JournalRecordKind;
  EXPECT_FALSE(allowed(file, "/etc/shadow"));
  EXPECT_FALSE(allowed(file, "relative/cpuset.cpus"));
  EXPECT_FALSE(allowed(file, "/proc/sys/kernel/core_pattern"));
  EXPECT_FALSE(allowed(file, "/proc/sys/kernel/modprobe"));
  EXPECT_FALSE(allowed(file, "/proc/self/attr/current"));
  EXPECT_FALSE(allowed(file, "/sys/devices/system/cpu"));  // the family's directory itself
  EXPECT_FALSE(allowed(file, "/sys/devices/system/cpufoo/x"));
  EXPECT_FALSE(allowed(file, "/sys/devices/system/cpu/../../../etc/passwd"));
  EXPECT_FALSE(allowed(file, "/sys/devices/system/cpu/./online"));
  EXPECT_FALSE(allowed(file, "/sys/devices/system/cpu//online"));
  EXPECT_FALSE(allowed(file, std::string("/sys/devices/system/cpu/online\0/x", 33)));
  EXPECT_FALSE(allowed(file, "/sys/fs/cgroup/release_agent", v1_mounts));
  EXPECT_FALSE(allowed(file, "/dev/cpuset/release_agent", v1_mounts));
  EXPECT_FALSE(allowed(file, "/dev/cpuset/notify_on_release", v1_mounts));
  EXPECT_FALSE(allowed(file, "/sys/fs/cgroup/aether/cgroup.procs"));
  EXPECT_FALSE(allowed(file, "/sys/fs/cgroup/aether/cpuset.cpus", v1_mounts));  // no cgroup mount there
  EXPECT_FALSE(allowed(file, "/sys/fs/cgroup/cpuset.cpus", CgroupMounts{}));
  EXPECT_FALSE(allowed(irq, "/proc/irq/24/../../sys/vm/nr_hugepages"));
  EXPECT_FALSE(allowed(irq, "/proc/irq/24/node"));
  EXPECT_FALSE(allowed(irq, "/proc/irq/x/smp_affinity_list"));
  EXPECT_FALSE(allowed(directory, "/sys/fs/cgroup"));
  EXPECT_FALSE(allowed(directory, "/tmp/aether"));
  EXPECT_FALSE(allowed(directory, "/dev/cpuset/aether"));  // v2 only
  EXPECT_FALSE(allowed(controller, "/sys/fs/cgroup/cgroup.subtree_control", v2_mounts, "cpuset -memory"));
  EXPECT_FALSE(allowed(controller, "/sys/fs/cgroup/cgroup.procs", v2_mounts, "cpuset"));
  EXPECT_FALSE(allowed(controller, "/dev/cpuset/cgroup.subtree_control", v1_mounts, "cpuset"));
  EXPECT_FALSE(check_journal_target(JournalRecord{affinity, "", "0-3", 0, 5}, v2_mounts).ok());
  EXPECT_FALSE(allowed(hold, "/dev/mem", v2_mounts, "0"));
  EXPECT_FALSE(allowed(hold, "/dev/cpu_dma_latency", v2_mounts, "-1"));
  EXPECT_FALSE(allowed(hold, "/dev/cpu_dma_latency", v2_mounts, ""));
  EXPECT_FALSE(allowed(file, "/proc/sys/vm/nr_hugepages", v2_mounts, std::string("1\0", 2)));
}

TEST(JournalTargets, TheErrorSaysWhy) {
  auto refused = check_journal_target(JournalRecord{JournalRecordKind::directory, "/tmp/x", "", 0, 0}, v1_mounts);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "journal record for \"/tmp/x\" refused: apply creates directories only below a cgroup mount (cgroup2 "
            "at /sys/fs/cgroup/unified, cpuset at /dev/cpuset)");
  auto dots = check_journal_target(JournalRecord{JournalRecordKind::file, "/proc/sys/../x", "", 0, 0}, v2_mounts);
  ASSERT_FALSE(dots.ok());
  EXPECT_THAT(dots.error().message, HasSubstr("has a \".\" or \"..\" component"));
}

}  // namespace
}  // namespace aether::partition
