// Reading IRQs, cgroups, tasks and knobs from the fake trees in
// tests/data/partition (see its README.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/partition/cgroup.hpp"
#include "aether/partition/host_access.hpp"
#include "aether/partition/irq.hpp"
#include "aether/partition/knobs.hpp"
#include "aether/partition/tasks.hpp"
#include "fake_host.hpp"

namespace aether::partition {
namespace {

using test::tree_host;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::Optional;

TEST(HostRoots, MapsLogicalPaths) {
  const HostRoots roots{"/tmp/t/sys", "/tmp/t/proc"};
  EXPECT_EQ(roots.map("/sys/fs/cgroup/cpuset"), "/tmp/t/sys/fs/cgroup/cpuset");
  EXPECT_EQ(roots.map("/proc/irq/5/smp_affinity_list"), "/tmp/t/proc/irq/5/smp_affinity_list");
  EXPECT_EQ(roots.map("/sys"), "/tmp/t/sys");
  EXPECT_EQ(roots.map("/system/x"), "/system/x");  // "/sys" is a prefix of the word only
  EXPECT_EQ(roots.map("/var/lib/aether/partition.journal"), "/var/lib/aether/partition.journal");
}

// "/sys/../x" maps to "<sysfs root>/../x": outside the tree. The writers
// refuse such paths rather than climb out (issue 13 item 11).
TEST(HostAccess, WritersRefuseDotDotAndNul) {
  test::TempDirectory temp;
  std::filesystem::create_directories(temp.path() / "root" / "sys");
  test::write_file(temp.path() / "outside", "precious\n");
  HostAccess host(HostRoots{temp.path() / "root" / "sys", temp.path() / "root" / "proc"});
  auto written = host.write("/sys/../../outside", "pwned");
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().message, "refusing to change \"/sys/../../outside\": a \"..\" component or a NUL byte");
  EXPECT_EQ(test::read_file(temp.path() / "outside"), "precious\n");
  EXPECT_FALSE(host.write(std::string("/sys/x\0/../../outside", 22), "pwned").ok());
  EXPECT_FALSE(host.make_directory("/sys/../../made").ok());
  EXPECT_FALSE(std::filesystem::exists(temp.path() / "made"));
  EXPECT_FALSE(host.remove_directory("/sys/../../root").ok());
  EXPECT_TRUE(std::filesystem::exists(temp.path() / "root"));
  // "..." and "..x" are ordinary names.
  test::write_file(temp.path() / "root" / "sys" / "..x", "1\n");
  EXPECT_TRUE(host.write("/sys/..x", "2").ok());
}

TEST(Irqs, ReadsAffinitiesHandlersCountsAndManagedFlags) {
  const HostAccess host = tree_host("isolated-v2");
  auto table = read_irqs(host);
  ASSERT_TRUE(table.ok()) << table.error().describe();
  EXPECT_THAT(table->default_affinity, ElementsAre(0u, 1u));
  EXPECT_EQ(table->default_affinity_text, "3");
  EXPECT_TRUE(table->managed_flags_visible);
  ASSERT_EQ(table->irqs.size(), 4u);
  const IrqInfo& nvme = table->irqs[2];
  EXPECT_EQ(nvme.number, 26u);
  EXPECT_EQ(nvme.name, "nvme0q3");
  EXPECT_THAT(nvme.affinity, ElementsAre(3u));
  EXPECT_THAT(nvme.effective, Optional(ElementsAre(3u)));
  EXPECT_EQ(nvme.managed, IrqManaged::managed);
  EXPECT_EQ(table->irqs[0].managed, IrqManaged::unmanaged);
  EXPECT_THAT(nvme.counts,
              ElementsAre(std::pair{0u, 0ull}, std::pair{1u, 0ull}, std::pair{2u, 0ull}, std::pair{3u, 1234ull}));
}

TEST(Irqs, OlderKernelWithoutEffectiveAffinityOrHandlerDirectory) {
  const HostAccess host = tree_host("smt-v1");
  auto table = read_irqs(host);
  ASSERT_TRUE(table.ok()) << table.error().describe();
  EXPECT_FALSE(table->managed_flags_visible);
  ASSERT_EQ(table->irqs.size(), 3u);
  EXPECT_EQ(table->irqs[1].number, 31u);
  EXPECT_EQ(table->irqs[1].effective, std::nullopt);
  EXPECT_EQ(table->irqs[1].name, "IR-PCI-MSI 2-edge eth0-rx-1");  // from /proc/interrupts
  EXPECT_EQ(table->irqs[1].managed, IrqManaged::unknown);
  EXPECT_EQ(table->irqs[2].name, "ahci[0000:00:17.0]");
}

TEST(Irqs, ProcInterruptsSkipsSystemVectorsAndOfflineColumns) {
  const auto rows = parse_proc_interrupts(
      "           CPU0       CPU2\n"
      "  0:         44          0   IO-APIC   2-edge      timer\n"
      " 16:          1          2   IO-APIC  16-fasteoi   ehci_hcd:usb1, i801_smbus\n"
      "NMI:          0          0   Non-maskable interrupts\n"
      "ERR:          0\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].irq, 16u);
  EXPECT_THAT(rows[1].counts, ElementsAre(std::pair{0u, 1ull}, std::pair{2u, 2ull}));
  EXPECT_EQ(rows[1].description, "IO-APIC 16-fasteoi ehci_hcd:usb1, i801_smbus");
}

TEST(Cgroups, MountinfoFindsBothHierarchiesAndUnescapes) {
  const auto mounts = parse_mountinfo(
      "41 31 0:36 / /sys/fs/cgroup/cpuset rw,nosuid - cgroup cgroup rw,cpuset\n"
      "42 31 0:37 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
      "43 31 0:38 / /sys/fs/my\\040cgroup rw shared:5 master:1 - cgroup2 cgroup2 rw\n"
      "garbage line\n");
  EXPECT_EQ(mounts.v1_cpuset, "/sys/fs/cgroup/cpuset");
  EXPECT_EQ(mounts.v2, "/sys/fs/my cgroup");
  // "cpuset" must be a whole option, not a prefix such as "cpuset_v2_mode".
  EXPECT_EQ(parse_mountinfo("1 2 0:1 / /x rw - cgroup cgroup rw,cpuset_v2_mode\n").v1_cpuset, std::nullopt);
}

TEST(Cgroups, V2WithCpusetAndNoPartition) {
  const HostAccess host = tree_host("isolated-v2");
  const CpusetState state = read_cpuset_state(host);
  EXPECT_EQ(state.mounts.v2, "/sys/fs/cgroup");
  EXPECT_TRUE(state.mounts.v2_has_cpuset);
  EXPECT_EQ(state.mounts.v1_cpuset, std::nullopt);
  EXPECT_THAT(state.partitions, IsEmpty());
  EXPECT_THAT(state.isolated_cpus(), IsEmpty());
}

TEST(Cgroups, V1CpusetsAndLoadBalancing) {
  const HostAccess host = tree_host("smt-v1");
  CpusetState state = read_cpuset_state(host);
  EXPECT_EQ(state.mounts.v1_cpuset, "/sys/fs/cgroup/cpuset");
  EXPECT_EQ(state.mounts.v2, "/sys/fs/cgroup/unified");
  EXPECT_FALSE(state.mounts.v2_has_cpuset);
  ASSERT_TRUE(state.v1_root.has_value());
  EXPECT_TRUE(state.v1_root->load_balance);
  EXPECT_EQ(state.v1_root->task_count, 6u);
  ASSERT_EQ(state.v1_children.size(), 1u);
  EXPECT_EQ(state.v1_children[0].path, "/sys/fs/cgroup/cpuset/docker");
  EXPECT_THAT(state.isolated_cpus(), IsEmpty());

  // Top balancing off, an Aether cpuset without balancing, a housekeeping one
  // with it; a CPU in no balanced cpuset is isolated.
  state.v1_root->load_balance = false;
  state.v1_children = {CpusetV1{"/a", {2, 3}, true, false, 0}, CpusetV1{"/h", {0, 1, 4, 5, 6, 7}, false, true, 0}};
  EXPECT_THAT(state.isolated_cpus(), ElementsAre(2u, 3u));
}

TEST(Cgroups, V2PartitionsValidAndInvalid) {
  CpusetState state;
  state.partitions = {
      CpusetPartition{"/sys/fs/cgroup/a", "isolated", {2, 3}, true, true},
      CpusetPartition{"/sys/fs/cgroup/b", "isolated invalid (Cpu list not exclusive)", {4}, true, false},
      CpusetPartition{"/sys/fs/cgroup/c", "root", {5}, false, true}};
  EXPECT_THAT(state.isolated_cpus(), ElementsAre(2u, 3u));
}

TEST(Tasks, StatFieldsAfterANameWithParenthesesAndSpaces) {
  std::uint64_t flags = 0, start = 0;
  const std::string stat = "700 (sshd (pinned) x) S 1 700 700 0 -1 4194624 0 0 0 0 0 0 0 0 20 0 1 0 5001 1000 10 0 0";
  ASSERT_TRUE(parse_task_stat(stat, flags, start));
  EXPECT_EQ(flags, 4194624u);
  EXPECT_EQ(start, 5001u);
  EXPECT_FALSE(parse_task_stat("700 (short) S 1", flags, start));
  EXPECT_FALSE(parse_task_stat("no parenthesis", flags, start));
}

TEST(Tasks, ReadsThreadsWithFlags) {
  const HostAccess host = tree_host("isolated-v2");
  const auto tasks = read_tasks(host);
  ASSERT_EQ(tasks.size(), 6u);
  const auto find = [&](pid_t tid) {
    return *std::find_if(tasks.begin(), tasks.end(), [&](auto& t) { return t.tid == tid; });
  };
  EXPECT_EQ(find(601).name, "aether-rx");
  EXPECT_EQ(find(601).tgid, 600);
  EXPECT_THAT(find(601).allowed, ElementsAre(2u));
  EXPECT_TRUE(find(20).kernel_thread());
  EXPECT_TRUE(find(20).pinned_by_kernel());
  EXPECT_TRUE(find(2).kernel_thread());
  EXPECT_FALSE(find(2).pinned_by_kernel());
  EXPECT_FALSE(find(500).kernel_thread());
  EXPECT_EQ(find(500).start_time, 900u);
  EXPECT_EQ(read_task(host, 500)->name, "worker");
  EXPECT_EQ(read_task(host, 4242), std::nullopt);
}

TEST(Knobs, IsolatedHost) {
  const HostAccess host = tree_host("isolated-v2");
  const HostKnobs knobs = read_host_knobs(host, {2, 3});
  EXPECT_EQ(knobs.rt_runtime_us, -1);
  EXPECT_EQ(knobs.timer_migration, 0);
  EXPECT_EQ(knobs.stat_interval, 10);
  EXPECT_EQ(knobs.thp_enabled, "madvise");
  ASSERT_EQ(knobs.huge_pages.size(), 1u);
  EXPECT_EQ(knobs.huge_pages[0].page_kib, 2048u);
  EXPECT_EQ(knobs.huge_pages[0].total, 512u);
  EXPECT_EQ(knobs.huge_pages[0].free, 500u);
  ASSERT_EQ(knobs.cpu_power.size(), 2u);
  EXPECT_EQ(knobs.cpu_power[0].governor, "performance");
  ASSERT_EQ(knobs.cpu_power[0].idle_states.size(), 3u);
  EXPECT_EQ(knobs.cpu_power[0].idle_states[2].exit_latency_us, 100u);
  ASSERT_TRUE(knobs.workqueue.has_value());
  EXPECT_THAT(knobs.workqueue->effective, ElementsAre(0u, 1u));
  EXPECT_EQ(knobs.workqueue->requested, std::nullopt);
  EXPECT_EQ(knobs.iommu_groups, 2u);
  EXPECT_THAT(knobs.iommus, ElementsAre("dmar0"));
}

TEST(Knobs, SelectedWord) {
  EXPECT_EQ(selected_word("always [madvise] never"), "madvise");
  EXPECT_EQ(selected_word("[always] madvise never\n"), "always");
  EXPECT_EQ(selected_word("never\n"), "never");
}

}  // namespace
}  // namespace aether::partition
