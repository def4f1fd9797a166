// apply and revert against writable copies of the fake trees, with a fake
// kernel (fake_host.hpp): the effects, idempotence, exact restoration, and
// restoration after a "kill -9" at every single step of apply.
#include <memory>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/partition/apply.hpp"
#include "aether/partition/journal_lock.hpp"
#include "aether/partition/revert.hpp"
#include "aether/partition/status.hpp"
#include "aether/partition/worker_cpus.hpp"
#include "fake_host.hpp"

namespace aether::partition {
namespace {

using test::Crash;
using test::describe_differences;
using test::FakeHost;
using test::read_file;
using test::snapshot;
using test::TempDirectory;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

struct Scenario {
  const char* tree;
  std::vector<unsigned> aether;
  std::optional<std::uint64_t> hugepages;
  // Boot the tree as with "nohz_full=2-3 rcu_nocbs=2-3" only: without
  // isolcpus= the partition is made at run time (docs/guest-harness.md: the
  // combination that works on 6.1, 6.12 and 7.2).
  bool without_isolcpus = false;
};

const Scenario v2_scenario{"isolated-v2", {2, 3}, std::nullopt, true};
const Scenario v1_scenario{"smt-v1", {2, 3, 6, 7}, 64};

// A writable copy of the scenario's tree.
std::unique_ptr<FakeHost> host_for(const Scenario& scenario, const std::filesystem::path& scratch) {
  auto host = std::make_unique<FakeHost>(scenario.tree, scratch);
  if (scenario.without_isolcpus) {
    test::write_file(host->root() / "proc/cmdline",
                     "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=/dev/vda ro nohz_full=2-3 rcu_nocbs=2-3\n");
    test::write_file(host->root() / "sys/devices/system/cpu/isolated", "\n");
  }
  return host;
}

ApplyOptions options_for(const Scenario& scenario, const std::filesystem::path& journal) {
  ApplyOptions options;
  options.aether_cpus = scenario.aether;
  options.journal_path = journal;
  options.hugepages = scenario.hugepages;
  return options;
}

std::string allowed_of(const FakeHost& host, int pid, int tid) {
  const std::string status =
      read_file(host.root() / "proc" / std::to_string(pid) / "task" / std::to_string(tid) / "status");
  const auto begin = status.find("Cpus_allowed_list:\t") + 19;
  return status.substr(begin, status.find('\n', begin) - begin);
}

std::string file(const FakeHost& host, const std::string& relative) { return read_file(host.root() / relative); }

TEST(ApplyRevert, CgroupV2IsolatedPartition) {
  TempDirectory temp;
  auto owner = host_for(v2_scenario, temp.path());
  FakeHost& host = *owner;
  host.add_managed_irq(26);
  const auto original = snapshot(host.root());
  const auto journal = temp.path() / "partition.journal";

  auto report = apply_partition(host, options_for(v2_scenario, journal));
  ASSERT_TRUE(report.ok()) << report.error().describe();
  EXPECT_EQ(file(host, "sys/fs/cgroup/cgroup.subtree_control"), "cpu io memory pids cpuset\n");
  EXPECT_EQ(file(host, "sys/fs/cgroup/aether/cpuset.cpus"), "2-3\n");
  EXPECT_EQ(file(host, "sys/fs/cgroup/aether/cpuset.cpus.partition"), "isolated\n");
  EXPECT_EQ(file(host, "proc/irq/27/smp_affinity_list"), "0-1\n");
  EXPECT_EQ(file(host, "proc/irq/26/smp_affinity_list"), "3\n");  // managed: refused
  EXPECT_THAT(report->irqs_managed, ElementsAre(26u));
  EXPECT_EQ(report->irqs_moved, 1u);
  EXPECT_EQ(allowed_of(host, 500, 500), "0-1");  // worker moved off
  EXPECT_EQ(allowed_of(host, 600, 601), "2");    // the data plane left alone
  EXPECT_EQ(allowed_of(host, 20, 20), "2");      // ksoftirqd/2 left alone
  EXPECT_EQ(report->tasks_moved, 1u);
  EXPECT_EQ(report->tasks_per_cpu_kthreads, 1u);
  EXPECT_EQ(report->tasks_confined, 1u);
  EXPECT_EQ(file(host, "proc/irq/default_smp_affinity"), "3\n");  // already housekeeping only
  const std::string text = format_apply_report(*report);
  EXPECT_THAT(text, HasSubstr("cgroup v2 isolated partition /sys/fs/cgroup/aether with CPUs 2-3"));
  EXPECT_THAT(text, HasSubstr("refused to move IRQs 26 (EIO/EPERM: managed"));

  // status now sees the partition.
  StatusOptions status_options;
  status_options.journal_path = journal;
  auto status = collect_status(host, status_options);
  ASSERT_TRUE(status.ok()) << status.error().describe();
  for (const Check& check : status->checks) {
    if (check.item == "cpuset") {
      EXPECT_EQ(check.level, CheckLevel::ok);
      EXPECT_THAT(check.details, testing::Contains(HasSubstr("partition /sys/fs/cgroup/aether: isolated, CPUs 2-3")));
    }
    if (check.item == "tasks") {
      EXPECT_EQ(check.level, CheckLevel::ok) << check.finding;
    }
    if (check.item == "journal") {
      EXPECT_THAT(check.finding, HasSubstr("partition applied for CPUs 2-3"));
    }
  }

  // Twice is harmless: nothing new to change or record.
  const std::string journal_text = read_file(journal);
  const auto applied = snapshot(host.root());
  auto again = apply_partition(host, options_for(v2_scenario, journal));
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_EQ(again->changes_journaled, 0u);
  EXPECT_EQ(read_file(journal), journal_text);
  EXPECT_EQ(snapshot(host.root()), applied) << describe_differences(applied, snapshot(host.root()));

  auto reverted = revert_partition(host, journal);
  ASSERT_TRUE(reverted.ok()) << reverted.error().describe();
  EXPECT_THAT(reverted->failures, IsEmpty());
  EXPECT_TRUE(reverted->journal_removed);
  EXPECT_FALSE(std::filesystem::exists(journal));
  const auto after = snapshot(host.root());
  EXPECT_EQ(after, original) << describe_differences(original, after);

  // Nothing left to revert.
  auto nothing = revert_partition(host, journal);
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->journal_found);
}

TEST(ApplyRevert, CgroupV1CpusetsKeepPinnedTasksPinned) {
  TempDirectory temp;
  FakeHost host(v1_scenario.tree, temp.path());
  const auto original = snapshot(host.root());
  const auto journal = temp.path() / "partition.journal";

  auto report = apply_partition(host, options_for(v1_scenario, journal));
  ASSERT_TRUE(report.ok()) << report.error().describe();
  const std::string v1 = "sys/fs/cgroup/cpuset/";
  EXPECT_EQ(file(host, v1 + "aether/cpuset.cpus"), "2-3,6-7\n");
  EXPECT_EQ(file(host, v1 + "aether/cpuset.cpu_exclusive"), "1\n");
  EXPECT_EQ(file(host, v1 + "aether/cpuset.sched_load_balance"), "0\n");
  EXPECT_EQ(file(host, v1 + "aether-housekeeping/cpuset.cpus"), "0-1,4-5\n");
  EXPECT_EQ(file(host, v1 + "aether-housekeeping/tasks"), "1\n2\n40\n700\n701\n");
  EXPECT_EQ(file(host, v1 + "tasks"), "3\n");  // kworker/6:1 is per-CPU: it stays
  EXPECT_EQ(file(host, v1 + "cpuset.sched_load_balance"), "0\n");
  EXPECT_EQ(allowed_of(host, 700, 700), "0-1,4-5");
  EXPECT_EQ(allowed_of(host, 700, 701), "1");  // its own pinning survives the cpuset move
  EXPECT_EQ(allowed_of(host, 3, 3), "6");
  EXPECT_EQ(file(host, "proc/irq/30/smp_affinity_list"), "0-1,4-5\n");
  EXPECT_EQ(file(host, "proc/irq/32/smp_affinity_list"), "0-1\n");
  EXPECT_EQ(file(host, "proc/irq/default_smp_affinity"), "33\n");
  EXPECT_EQ(file(host, "sys/devices/virtual/workqueue/cpumask"), "33\n");
  EXPECT_EQ(file(host, "proc/sys/vm/nr_hugepages"), "64\n");
  EXPECT_EQ(report->tasks_moved, 4u);  // systemd, kthreadd, kcompactd0, sshd
  EXPECT_EQ(report->irqs_moved, 3u);
  // The knobs (step 0): the tree is untuned.
  EXPECT_EQ(file(host, "proc/sys/kernel/sched_rt_runtime_us"), "-1\n");
  EXPECT_EQ(file(host, "proc/sys/kernel/timer_migration"), "0\n");
  EXPECT_EQ(file(host, "proc/sys/vm/stat_interval"), "10\n");
  for (const char* cpu : {"2", "3", "6", "7"}) {
    const std::string idle = std::string("sys/devices/system/cpu/cpu") + cpu + "/cpuidle/";
    EXPECT_EQ(file(host, idle + "state0/disable"), "0\n") << cpu;  // POLL
    EXPECT_EQ(file(host, idle + "state1/disable"), "0\n") << cpu;  // C1, 2 us
    EXPECT_EQ(file(host, idle + "state2/disable"), "1\n") << cpu;  // C1E, 10 us
    EXPECT_EQ(file(host, idle + "state3/disable"), "1\n") << cpu;  // C6, 133 us
  }
  EXPECT_EQ(file(host, "sys/devices/system/cpu/cpu1/cpuidle/state3/disable"), "0\n");  // a host CPU
  EXPECT_EQ(report->idle_states_disabled, 8u);
  EXPECT_THAT(read_file(journal), HasSubstr("\nhold /dev/cpu_dma_latency =0\n"));
  const std::string text = format_apply_report(*report);
  EXPECT_THAT(text, HasSubstr("kernel.sched_rt_runtime_us = -1 (was 950000)"));
  EXPECT_THAT(text, HasSubstr("kernel.timer_migration = 0 (was 1)"));
  EXPECT_THAT(text, HasSubstr("vm.stat_interval = 10 (was 1)"));
  EXPECT_THAT(text, HasSubstr("disabled idle states slower than 2 us to leave on CPUs 2-3,6-7: CPU 2 C1E (10 us)"));
  EXPECT_THAT(text, HasSubstr("--partition workers will hold /dev/cpu_dma_latency at 0"));

  StatusOptions status_options;
  status_options.aether_cpus = v1_scenario.aether;
  auto status = collect_status(host, status_options);
  ASSERT_TRUE(status.ok()) << status.error().describe();
  for (const Check& check : status->checks) {
    if (check.item == "sysfs.isolated" || check.item == "cpuset" || check.item == "workqueue" ||
        check.item == "irq.default_affinity" || check.item == "hugepages" || check.item == "rt-throttling" ||
        check.item == "vm.stat_interval" || check.item == "timer-migration" || check.item == "cpuidle") {
      EXPECT_EQ(check.level, CheckLevel::ok) << check.item << ": " << check.finding;
    }
  }

  auto reverted = revert_partition(host, journal);
  ASSERT_TRUE(reverted.ok()) << reverted.error().describe();
  EXPECT_THAT(reverted->failures, IsEmpty());
  const auto after = snapshot(host.root());
  EXPECT_EQ(after, original) << describe_differences(original, after);
}

// --keep-rt-throttling and --keep-idle-states: those knobs stay as they
// are, the others are still set, and no process is asked to hold
// /dev/cpu_dma_latency.
TEST(ApplyRevert, KnobsTheUserKeepsStayAlone) {
  TempDirectory temp;
  FakeHost host(v1_scenario.tree, temp.path());
  const auto original = snapshot(host.root());
  const auto journal = temp.path() / "partition.journal";
  ApplyOptions options = options_for(v1_scenario, journal);
  options.knobs.keep_rt_throttling = true;
  options.knobs.keep_idle_states = true;
  auto report = apply_partition(host, options);
  ASSERT_TRUE(report.ok()) << report.error().describe();
  EXPECT_EQ(file(host, "proc/sys/kernel/sched_rt_runtime_us"), "950000\n");
  EXPECT_EQ(file(host, "sys/devices/system/cpu/cpu2/cpuidle/state3/disable"), "0\n");
  EXPECT_EQ(file(host, "proc/sys/kernel/timer_migration"), "0\n");
  EXPECT_EQ(report->idle_states_disabled, 0u);
  EXPECT_THAT(read_file(journal), Not(HasSubstr("hold ")));
  EXPECT_THAT(format_apply_report(*report), HasSubstr("left as it is (--keep-rt-throttling)"));
  auto worker = aether_cpus_for_workers(host, WorkerCpuRequest{1, {}, "--cpu", journal});
  ASSERT_TRUE(worker.ok()) << worker.error().describe();
  EXPECT_EQ(worker->cpu_dma_latency_us, std::nullopt);
  ASSERT_TRUE(revert_partition(host, journal).ok());
  EXPECT_EQ(snapshot(host.root()), original);
}

TEST(ApplyRevert, BootIsolatedCpusNeedNoPartition) {
  TempDirectory temp;
  FakeHost host("isolated-v2", temp.path());  // booted with isolcpus=managed_irq,domain,2-3
  const auto original = snapshot(host.root());
  const auto journal = temp.path() / "partition.journal";
  auto report = apply_partition(host, options_for(v2_scenario, journal));
  ASSERT_TRUE(report.ok()) << report.error().describe();
  EXPECT_THAT(format_apply_report(*report), HasSubstr("no cpuset partition: isolcpus= isolates CPUs 2-3 at boot"));
  EXPECT_FALSE(std::filesystem::exists(host.root() / "sys/fs/cgroup/aether"));
  EXPECT_EQ(file(host, "sys/fs/cgroup/cgroup.subtree_control"), "cpu io memory pids\n");
  EXPECT_EQ(allowed_of(host, 500, 500), "0-1");
  ASSERT_TRUE(revert_partition(host, journal).ok());
  EXPECT_EQ(snapshot(host.root()), original);
}

TEST(ApplyRevert, OtherCpusNeedARevertFirst) {
  TempDirectory temp;
  FakeHost host(v2_scenario.tree, temp.path());
  const auto journal = temp.path() / "partition.journal";
  ASSERT_TRUE(apply_partition(host, options_for(v2_scenario, journal)).ok());
  ApplyOptions other = options_for(v2_scenario, journal);
  other.aether_cpus = {3};
  auto refused = apply_partition(host, other);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("run `aether partition revert` first"));
}

TEST(ApplyRevert, InvalidCpusChangeNothing) {
  TempDirectory temp;
  FakeHost host(v1_scenario.tree, temp.path());
  const auto original = snapshot(host.root());
  ApplyOptions options = options_for(v1_scenario, temp.path() / "j");
  options.aether_cpus = {6, 7};  // splits cores
  auto refused = apply_partition(host, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("SMT sibling"));
  EXPECT_EQ(host.changes(), 0);
  EXPECT_FALSE(std::filesystem::exists(temp.path() / "j"));
  EXPECT_EQ(snapshot(host.root()), original);
}

// Kill apply after each of its changes in turn; revert must restore the
// original tree every time, and so must "apply again, then revert".
void crash_everywhere(const Scenario& scenario) {
  int total = 0;
  {
    TempDirectory temp;
    auto host = host_for(scenario, temp.path());
    ASSERT_TRUE(apply_partition(*host, options_for(scenario, temp.path() / "j")).ok());
    total = host->changes();
  }
  ASSERT_GT(total, 5);
  for (int crash_at = 0; crash_at < total; ++crash_at) {
    for (const bool apply_again : {false, true}) {
      TempDirectory temp;
      auto owner = host_for(scenario, temp.path());
      FakeHost& host = *owner;
      const auto original = snapshot(host.root());
      const auto journal = temp.path() / "j";
      host.crash_after(crash_at);
      EXPECT_THROW((void)apply_partition(host, options_for(scenario, journal)), Crash) << "crash at " << crash_at;
      host.crash_after(-1);
      if (apply_again) {
        auto applied = apply_partition(host, options_for(scenario, journal));
        ASSERT_TRUE(applied.ok()) << applied.error().describe();
      }
      auto reverted = revert_partition(host, journal);
      ASSERT_TRUE(reverted.ok()) << reverted.error().describe();
      EXPECT_THAT(reverted->failures, IsEmpty()) << "crash at " << crash_at;
      const auto after = snapshot(host.root());
      EXPECT_EQ(after, original) << "crash at change " << crash_at << " of " << total
                                 << (apply_again ? ", applied again" : "") << ":\n"
                                 << describe_differences(original, after);
    }
  }
}

// A copy of the v2 tree with the partition applied, journal in the
// temporary directory.
class AppliedV2 : public ::testing::Test {
 protected:
  void SetUp() override {
    auto applied = apply_partition(host, options_for(v2_scenario, journal));
    ASSERT_TRUE(applied.ok()) << applied.error().describe();
  }

  TempDirectory temp;
  std::unique_ptr<FakeHost> owner = host_for(v2_scenario, temp.path());
  FakeHost& host = *owner;
  std::filesystem::path journal = temp.path() / "partition.journal";
};

// A reboot resets every value the journal holds: revert restores nothing
// (writing the old values would undo the new boot's settings and name IRQs,
// TIDs and cgroups that may be someone else's now) and removes the journal;
// apply refuses to continue it.
TEST_F(AppliedV2, AJournalOfAnotherBootRestoresNothing) {
  // The reboot: a new boot id, and the kernel's defaults back.
  const auto rebooted = temp.path() / "rebooted";
  std::filesystem::create_directory(rebooted);
  { FakeHost fresh(v2_scenario.tree, rebooted); }
  for (const char* dir : {"sys", "proc"}) std::filesystem::remove_all(host.root() / dir);
  for (const char* dir : {"sys", "proc"}) {
    std::filesystem::copy(rebooted / "host" / dir, host.root() / dir, std::filesystem::copy_options::recursive);
  }
  test::write_file(host.root() / "proc/sys/kernel/random/boot_id", "17f0aa00-0000-4000-8000-000000000000\n");
  const auto after_reboot = snapshot(host.root());

  auto again = apply_partition(host, options_for(v2_scenario, journal));
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message, HasSubstr("is from an earlier boot (written in boot 3f1c9a52"));
  EXPECT_EQ(snapshot(host.root()), after_reboot);

  auto reverted = revert_partition(host, journal);
  ASSERT_TRUE(reverted.ok()) << reverted.error().describe();
  EXPECT_EQ(reverted->restored, 0u);
  EXPECT_TRUE(reverted->journal_removed);
  ASSERT_TRUE(reverted->other_boot.has_value());
  EXPECT_THAT(format_revert_report(*reverted),
              HasSubstr("is from another boot (written in boot 3f1c9a52-8d1e-4b6a-9c0f-2e7d5a4b8c61 (kernel "
                        "6.1.0-28-amd64), this is boot 17f0aa00-0000-4000-8000-000000000000 (kernel 6.1.0-28-amd64)): "
                        "the reboot reset every value it holds, nothing restored"));
  EXPECT_EQ(snapshot(host.root()), after_reboot) << describe_differences(after_reboot, snapshot(host.root()));
  EXPECT_FALSE(std::filesystem::exists(journal));
  EXPECT_TRUE(apply_partition(host, options_for(v2_scenario, journal)).ok());  // a fresh partition
}

// The journal names what root writes: a record apply never writes makes
// revert restore nothing at all, and the target stays as it is.
TEST_F(AppliedV2, RevertRefusesTargetsApplyNeverWrites) {
  const std::string applied = read_file(journal);
  const auto victim = temp.path() / "victim";
  test::write_file(victim, "precious\n");
  const std::vector<std::pair<std::string, std::string>> hostile = {
      {"file " + victim.string() + " =pwned", "apply writes no such file"},
      {"file /proc/sys/kernel/core_pattern =|/tmp/x", "apply writes no such file"},
      {"file /proc/irq/../sys/kernel/modprobe =/tmp/x", "has a \".\" or \"..\" component"},
      {"file /sys/fs/cgroup/release_agent =/tmp/x", "apply writes no such file"},
      {"file /sys/fs/cgroup/aether/cpuset.cpus%00x =1", "contains a NUL byte"},
      {"irq /proc/irq/5/../../sys/vm/nr_hugepages =1", "has a \".\" or \"..\" component"},
      {"irq /proc/irq/default_smp_affinity =f", "not /proc/irq/N/smp_affinity_list"},
      {"directory /etc", "apply creates directories only below a cgroup mount (cgroup2 at /sys/fs/cgroup)"},
      {"directory /sys/fs/cgroup", "apply creates directories only below a cgroup mount"},
      {"controller /sys/fs/cgroup/cgroup.procs cpuset", "not a cgroup.subtree_control"},
      {"controller /sys/fs/cgroup/cgroup.subtree_control +memory%20-cpuset", "not a cgroup.subtree_control"},
  };
  for (const auto& [record, why] : hostile) {
    test::write_file(journal, applied + record + "\n");
    const auto before = snapshot(host.root());
    auto reverted = revert_partition(host, journal);
    ASSERT_FALSE(reverted.ok()) << record;
    EXPECT_THAT(reverted.error().message, HasSubstr(why)) << record;
    EXPECT_THAT(reverted.error().message, HasSubstr("nothing restored")) << record;
    EXPECT_EQ(snapshot(host.root()), before) << record;
    EXPECT_EQ(read_file(victim), "precious\n") << record;
    EXPECT_TRUE(std::filesystem::exists(journal)) << record;
  }
  test::write_file(journal, applied);
  EXPECT_TRUE(revert_partition(host, journal).ok());
}

// Item 10 of issue 13: while one apply or revert holds the journal (here
// another thread, as another process would), a second apply or revert
// changes nothing and says who holds it.
TEST_F(AppliedV2, ASecondApplyOrRevertFailsWhileOneRuns) {
  const auto applied = snapshot(host.root());
  std::optional<JournalLock> lock;
  {
    auto acquired = JournalLock::acquire(journal);
    ASSERT_TRUE(acquired.ok()) << acquired.error().describe();
    lock.emplace(std::move(*acquired));
  }
  Result<ApplyReport> second_apply = Error{};
  Result<RevertReport> second_revert = Error{};
  std::thread other([&] {
    second_apply = apply_partition(host, options_for(v2_scenario, journal));
    second_revert = revert_partition(host, journal);
  });
  other.join();
  for (const Error* error : {second_apply.ok() ? nullptr : &second_apply.error(),
                             second_revert.ok() ? nullptr : &second_revert.error()}) {
    ASSERT_NE(error, nullptr);
    EXPECT_THAT(error->message, HasSubstr("is in use by another `aether partition apply` or `revert`"));
  }
  EXPECT_EQ(snapshot(host.root()), applied);
  lock.reset();
  auto reverted = revert_partition(host, journal);
  ASSERT_TRUE(reverted.ok()) << reverted.error().describe();
  EXPECT_TRUE(reverted->journal_removed);
}

TEST(ApplyRevert, RevertRestoresAfterAKillAtAnyPointV2) { crash_everywhere(v2_scenario); }
TEST(ApplyRevert, RevertRestoresAfterAKillAtAnyPointV1) { crash_everywhere(v1_scenario); }

}  // namespace
}  // namespace aether::partition
