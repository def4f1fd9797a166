// `aether partition status` on the fake trees of tests/data/partition.
#include "aether/partition/status.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace aether::partition {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

StatusReport status_of(const char* tree, std::optional<std::vector<unsigned>> aether = std::nullopt) {
  const HostAccess host = test::tree_host(tree);
  StatusOptions options;
  options.aether_cpus = std::move(aether);
  auto report = collect_status(host, options);
  EXPECT_TRUE(report.ok()) << report.error().describe();
  return report.ok() ? *report : StatusReport{};
}

const Check& item(const StatusReport& report, const std::string& name) {
  for (const Check& check : report.checks) {
    if (check.item == name) return check;
  }
  ADD_FAILURE() << "no check " << name;
  static const Check none;
  return none;
}

std::string all_details(const Check& check) {
  std::string text = check.finding + "\n";
  for (const auto& detail : check.details) text += detail + "\n";
  return text + check.fix;
}

TEST(Status, BootIsolatedHostTakesItsAetherCpusFromSysfs) {
  const StatusReport report = status_of("isolated-v2");
  EXPECT_THAT(report.aether_cpus, ElementsAre(2u, 3u));
  EXPECT_EQ(report.aether_cpus_source, "/sys/devices/system/cpu/isolated");
  EXPECT_THAT(report.housekeeping_cpus, ElementsAre(0u, 1u));
  for (const char* ok :
       {"aether-cpus", "cmdline.isolcpus", "cmdline.nohz_full", "cmdline.rcu_nocbs", "cmdline.irqaffinity",
        "sysfs.isolated", "sysfs.nohz_full", "smt", "irq.default_affinity", "workqueue", "rt-throttling",
        "timer-migration", "vm.stat_interval", "thp", "hugepages", "cpufreq", "iommu"}) {
    EXPECT_EQ(item(report, ok).level, CheckLevel::ok) << ok << ": " << all_details(item(report, ok));
  }
  // The managed nvme queue of CPU 3 cannot move, and managed_irq is already set.
  const Check& irq = item(report, "irq.affinity");
  EXPECT_EQ(irq.level, CheckLevel::warn);
  EXPECT_THAT(all_details(irq),
              HasSubstr("IRQ 26 nvme0q3: allowed 3, effective 3, 1234 on Aether CPUs since boot [managed]"));
  EXPECT_THAT(irq.fix, HasSubstr("submit no I/O from Aether CPUs"));
  // One user task is still allowed on CPUs 0-3; ksoftirqd/2 and aether-rx are where they belong.
  const Check& tasks = item(report, "tasks");
  EXPECT_EQ(tasks.level, CheckLevel::warn);
  EXPECT_THAT(all_details(tasks), HasSubstr("user tasks: worker"));
  EXPECT_THAT(all_details(tasks), HasSubstr("ksoftirqd/2"));
  EXPECT_THAT(all_details(tasks), HasSubstr("(the data plane?): aether-rx"));
  EXPECT_EQ(item(report, "cpuset").level, CheckLevel::info);  // not needed: isolcpus= isolates at boot
  EXPECT_EQ(report.worst(), CheckLevel::warn);
}

TEST(Status, UnpartitionedHostSuggestsAPlan) {
  const StatusReport report = status_of("smt-v1");
  EXPECT_THAT(report.aether_cpus, IsEmpty());
  const Check& aether = item(report, "aether-cpus");
  EXPECT_EQ(aether.level, CheckLevel::warn);
  EXPECT_THAT(aether.finding, HasSubstr("not partitioned"));
  // Upper half of 8 CPUs in whole SMT cores (n and n+4 share a core).
  EXPECT_THAT(aether.fix, HasSubstr("aether partition plan --aether-cpus 2-3,6-7"));
  EXPECT_NE(report.worst(), CheckLevel::fail);  // nothing to fail without Aether CPUs
}

TEST(Status, PlainHostWithAetherCpusFailsWithFixes) {
  const StatusReport report = status_of("smt-v1", std::vector<unsigned>{6, 7});
  EXPECT_EQ(report.worst(), CheckLevel::fail);
  EXPECT_EQ(item(report, "sysfs.isolated").level, CheckLevel::fail);
  EXPECT_THAT(item(report, "sysfs.isolated").fix, HasSubstr("aether partition apply --aether-cpus 6-7"));
  EXPECT_EQ(item(report, "sysfs.nohz_full").level, CheckLevel::fail);
  EXPECT_THAT(item(report, "sysfs.nohz_full").finding, HasSubstr("CONFIG_NO_HZ_FULL"));
  const Check& smt = item(report, "smt");
  EXPECT_EQ(smt.level, CheckLevel::warn);
  EXPECT_THAT(smt.finding, HasSubstr("host CPUs 2-3 share cores"));
  const Check& irq = item(report, "irq.affinity");
  EXPECT_EQ(irq.level, CheckLevel::fail);  // IRQ 31 has no effective list: assumed delivered anywhere allowed
  EXPECT_THAT(all_details(irq), HasSubstr("IRQ 30 eth0: allowed 0-7, effective 5, 15 on Aether CPUs since boot"));
  EXPECT_THAT(all_details(irq), HasSubstr("managed IRQs cannot be told apart"));
  EXPECT_THAT(item(report, "irq.default_affinity").fix, HasSubstr("echo 3f > /proc/irq/default_smp_affinity"));
  EXPECT_THAT(item(report, "workqueue").fix, HasSubstr("echo 3f > /sys/devices/virtual/workqueue/cpumask"));
  EXPECT_EQ(item(report, "cpuset").level, CheckLevel::warn);
  EXPECT_THAT(item(report, "cpuset").finding, HasSubstr("cgroup v1 cpuset at /sys/fs/cgroup/cpuset"));
  EXPECT_THAT(all_details(item(report, "tasks")), HasSubstr("kthreads: kcompactd0, kthreadd"));
  EXPECT_EQ(item(report, "rt-throttling").level, CheckLevel::warn);
  EXPECT_EQ(item(report, "timer-migration").level, CheckLevel::warn);
  EXPECT_EQ(item(report, "thp").level, CheckLevel::warn);
  EXPECT_EQ(item(report, "hugepages").level, CheckLevel::warn);
  EXPECT_EQ(item(report, "cpufreq").level, CheckLevel::warn);
  EXPECT_EQ(item(report, "iommu").level, CheckLevel::info);
  const Check& idle = item(report, "cpuidle");  // C1E and C6 enabled on the Aether CPUs
  EXPECT_EQ(idle.level, CheckLevel::warn);
  EXPECT_THAT(all_details(idle), HasSubstr("enabled states slower than 2 us to leave: CPU 6 state2 C1E (10 us)"));
  EXPECT_THAT(idle.fix, HasSubstr("aether partition apply"));
  EXPECT_THAT(item(report, "rt-throttling").fix, HasSubstr("aether partition apply"));
  for (const Check& check : report.checks) {
    if (check.level == CheckLevel::fail || check.level == CheckLevel::warn) {
      EXPECT_FALSE(check.fix.empty()) << check.item << " says what is wrong but not what to do";
    }
  }
}

TEST(Status, ImpossibleAetherCpusFail) {
  const StatusReport report = status_of("isolated-v2", std::vector<unsigned>{0, 9});
  const Check& aether = item(report, "aether-cpus");
  EXPECT_EQ(aether.level, CheckLevel::fail);
  EXPECT_THAT(all_details(aether), HasSubstr("CPUs 9 do not exist"));
  EXPECT_THAT(all_details(aether), HasSubstr("CPU 0 is the boot CPU"));
}

// A journal written in another boot describes nothing that is in effect:
// status says so and does not take the Aether CPUs from it.
TEST(Status, JournalOfAnotherBootIsReportedAndNotUsed) {
  test::TempDirectory temp;
  const auto journal = temp.path() / "partition.journal";
  test::write_file(journal,
                   "aether-partition-journal 2\ncpus =1-3 housekeeping =0 kernel =6.1.0-28-amd64 "
                   "boot =17f0aa00-0000-4000-8000-000000000000\nfile /proc/irq/default_smp_affinity =f\ncomplete\n");
  const HostAccess host = test::tree_host("isolated-v2");
  StatusOptions options;
  options.journal_path = journal;
  auto report = collect_status(host, options);
  ASSERT_TRUE(report.ok()) << report.error().describe();
  EXPECT_EQ(report->aether_cpus_source, "/sys/devices/system/cpu/isolated");
  EXPECT_THAT(report->aether_cpus, ElementsAre(2u, 3u));
  const Check& check = item(*report, "journal");
  EXPECT_EQ(check.level, CheckLevel::warn);
  EXPECT_THAT(check.finding, HasSubstr("(CPUs 1-3) is from another boot (written in boot 17f0aa00"));
  EXPECT_THAT(check.finding, HasSubstr("none of it is in effect"));
  EXPECT_THAT(check.fix, HasSubstr("`aether partition revert` removes it (restoring nothing)"));
}

TEST(Status, TableAndJson) {
  const StatusReport report = status_of("smt-v1", std::vector<unsigned>{6, 7});
  const std::string table = format_status_table(report);
  EXPECT_THAT(table, HasSubstr("Aether CPUs 6-7 (from --aether-cpus); housekeeping CPUs 0-5"));
  EXPECT_THAT(table, HasSubstr("FAIL  sysfs.isolated       /sys/devices/system/cpu/isolated: none\n"));
  EXPECT_THAT(table, HasSubstr("fix: "));
  const auto json = status_to_json(report);
  EXPECT_EQ(json["aether_cpus"], "6-7");
  EXPECT_EQ(json["worst"], "FAIL");
  EXPECT_EQ(json["checks"].size(), report.checks.size());
  EXPECT_EQ(json["counts"]["FAIL"], report.count(CheckLevel::fail));
}

}  // namespace
}  // namespace aether::partition
