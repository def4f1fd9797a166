#include "aether/partition/plan.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace aether::partition {
namespace {

using test::data_root;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

HostCpus cpus_of(const char* tree) {
  auto cpus = read_host_cpus(data_root / tree / "sys", data_root / tree / "proc");
  EXPECT_TRUE(cpus.ok()) << cpus.error().describe();
  return *cpus;
}

std::string refusal(const HostCpus& host, std::vector<unsigned> cpus, bool allow_smt_split = false) {
  auto valid = validate_aether_cpus(host, cpus, allow_smt_split);
  return valid ? std::string("accepted") : valid.error().message;
}

TEST(Plan, RefusesImpossibleCpuSets) {
  const HostCpus smt = cpus_of("smt-v1");  // 8 CPUs, n and n+4 share a core
  EXPECT_THAT(refusal(smt, {}), HasSubstr("no Aether CPUs"));
  EXPECT_THAT(refusal(smt, {0, 1, 2, 3, 4, 5, 6, 7}), HasSubstr("none would be left for the host"));
  EXPECT_THAT(refusal(smt, {0, 4}), HasSubstr("CPU 0 is the boot CPU"));
  EXPECT_THAT(refusal(smt, {7, 8, 9}), HasSubstr("CPUs 8-9 do not exist (this host has CPUs 0-7)"));
  EXPECT_THAT(refusal(smt, {6, 7}), HasSubstr("CPU 6's SMT sibling 2 would stay with the host"));
  EXPECT_EQ(refusal(smt, {6, 7}, true), "accepted");
  EXPECT_EQ(refusal(smt, {2, 3, 6, 7}), "accepted");
  HostCpus offline = smt;
  offline.online = {0, 1, 2, 3, 4, 5, 6};
  EXPECT_THAT(refusal(offline, {3, 7}), HasSubstr("CPUs 7 are offline"));
}

TEST(Plan, SuggestsWholeCoresAwayFromCpu0) {
  EXPECT_THAT(suggest_aether_cpus(cpus_of("smt-v1")), ElementsAre(2u, 3u, 6u, 7u));
  EXPECT_THAT(suggest_aether_cpus(cpus_of("isolated-v2")), ElementsAre(2u, 3u));
  HostCpus single;
  single.online = {0};
  single.cpus = {CpuInfo{0, true, {0}, 0, 0, 0}};
  EXPECT_THAT(suggest_aether_cpus(single), IsEmpty());
}

TEST(Plan, BootParametersGrubAndRuntimeStepsForCgroupV2) {
  const HostCpus host = cpus_of("isolated-v2");
  CgroupMounts mounts;
  mounts.v2 = "/sys/fs/cgroup";
  mounts.v2_has_cpuset = true;
  auto plan = make_plan(host, *parse_kernel_version("6.1.0-28-amd64"), mounts, {2, 3}, false);
  ASSERT_TRUE(plan.ok()) << plan.error().describe();
  EXPECT_EQ(plan->boot_parameters, "isolcpus=managed_irq,domain,2-3 nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0-1");
  EXPECT_THAT(plan->replaced_parameters, IsEmpty());  // the host was booted with exactly these
  const std::string text = format_plan(*plan);
  EXPECT_THAT(text, HasSubstr("GRUB_CMDLINE_LINUX"));
  EXPECT_THAT(text, HasSubstr("update-grub"));
  EXPECT_THAT(text, HasSubstr("grubby --update-kernel=ALL --args=\"isolcpus=managed_irq,domain,2-3"));
  EXPECT_THAT(text, HasSubstr("cpuset.cpus.partition=isolated"));
  EXPECT_THAT(text, HasSubstr("write 3 to /proc/irq/default_smp_affinity"));
  EXPECT_THAT(text, HasSubstr("already on the kernel command line"));
  EXPECT_THAT(text, HasSubstr("predates 6.8"));  // 6.1: partitions do not exclude workqueues
  EXPECT_THAT(text, HasSubstr("needs 6.19"));
  EXPECT_THAT(text, HasSubstr("stopping the scheduler tick on CPUs 2-3"));
}

// Step 0 of apply: each knob with what it does and risks, and what --keep-* leaves.
TEST(Plan, SaysWhatEachKnobDoesAndRisks) {
  const HostCpus host = cpus_of("isolated-v2");
  const KernelVersion kernel = *parse_kernel_version("6.1.0-28-amd64");
  auto plan = make_plan(host, kernel, CgroupMounts{}, {2, 3}, false);
  ASSERT_TRUE(plan.ok()) << plan.error().describe();
  const std::string text = format_plan(*plan);
  EXPECT_THAT(text, HasSubstr("write -1 to /proc/sys/kernel/sched_rt_runtime_us: no RT throttling"));
  EXPECT_THAT(text, HasSubstr("Risk: a SCHED_FIFO task that never sleeps then keeps its CPU for good"));
  EXPECT_THAT(text, HasSubstr("Keep throttling with --keep-rt-throttling"));
  EXPECT_THAT(text, HasSubstr("write 0 to /proc/sys/kernel/timer_migration"));
  EXPECT_THAT(text, HasSubstr("write 10 to /proc/sys/vm/stat_interval if it is shorter"));
  EXPECT_THAT(text, HasSubstr("cpuN/cpuidle/stateK/disable for each idle state of CPUs 2-3 slower than 2 us"));
  EXPECT_THAT(text, HasSubstr("hold /dev/cpu_dma_latency at 0 while they run"));

  KnobChoices keep;
  keep.keep_rt_throttling = true;
  keep.keep_idle_states = true;
  auto kept = make_plan(host, kernel, CgroupMounts{}, {2, 3}, false, true, keep);
  ASSERT_TRUE(kept.ok()) << kept.error().describe();
  const std::string kept_text = format_plan(*kept);
  EXPECT_THAT(kept_text, HasSubstr("leave kernel.sched_rt_runtime_us as it is (--keep-rt-throttling)"));
  EXPECT_THAT(kept_text, HasSubstr("leave the idle states of CPUs 2-3 and /dev/cpu_dma_latency alone"));
  EXPECT_THAT(kept_text, Not(HasSubstr("write -1 to")));
  EXPECT_THAT(kept_text, Not(HasSubstr("cpuidle/stateK/disable")));
  EXPECT_THAT(kept_text, HasSubstr("write 0 to /proc/sys/kernel/timer_migration"));  // not a choice
}

TEST(Plan, GatesOnKernelVersionAndCgroupVersion) {
  const HostCpus host = cpus_of("smt-v1");
  CgroupMounts v1;
  v1.v1_cpuset = "/sys/fs/cgroup/cpuset";
  auto old = make_plan(host, *parse_kernel_version("5.15.0-91-generic"), v1, {2, 3, 6, 7}, false, false);
  ASSERT_TRUE(old.ok()) << old.error().describe();
  const std::string text = format_plan(*old);
  EXPECT_THAT(text, HasSubstr("cpu_exclusive=1, sched_load_balance=0"));
  EXPECT_THAT(text, HasSubstr("without CONFIG_NO_HZ_FULL"));
  EXPECT_THAT(old->replaced_parameters, IsEmpty());

  CgroupMounts v2;
  v2.v2 = "/sys/fs/cgroup";
  v2.v2_has_cpuset = true;
  const std::string old_v2 = format_plan(*make_plan(host, *parse_kernel_version("5.15.0"), v2, {2, 3, 6, 7}, false));
  EXPECT_THAT(old_v2, HasSubstr("cpuset.cpus.partition=root"));
  EXPECT_THAT(old_v2, HasSubstr("predates cgroup v2 isolated partitions"));
  const std::string new_v2 = format_plan(*make_plan(host, *parse_kernel_version("6.19.1"), v2, {2, 3, 6, 7}, false));
  EXPECT_THAT(new_v2, Not(HasSubstr("needs 6.19")));
  EXPECT_THAT(new_v2, HasSubstr("an isolated partition also excludes its CPUs on this kernel"));
}

TEST(Plan, NamesTheParametersItReplaces) {
  HostCpus host = cpus_of("isolated-v2");
  host.kernel_cmdline = "root=/dev/vda isolcpus=3 nohz_full=2-3 rcu_nocbs -- isolcpus=1";
  auto plan = make_plan(host, *parse_kernel_version("6.1.0"), CgroupMounts{}, {2, 3}, false);
  ASSERT_TRUE(plan.ok()) << plan.error().describe();
  EXPECT_THAT(plan->replaced_parameters, ElementsAre("isolcpus=3", "rcu_nocbs"));  // what follows "--" is init's
  EXPECT_THAT(format_plan(*plan), HasSubstr("--remove-args=\"isolcpus=3 rcu_nocbs\""));
}

TEST(Plan, RefusalNamesTheReason) {
  const HostCpus host = cpus_of("smt-v1");
  auto plan = make_plan(host, *parse_kernel_version("6.1.0"), CgroupMounts{}, {6, 7}, false);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.error().message, HasSubstr("--allow-smt-split"));
}

}  // namespace
}  // namespace aether::partition
