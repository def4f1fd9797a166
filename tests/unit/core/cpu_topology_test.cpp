#include "aether/core/cpu_topology.hpp"

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "temp_tree.hpp"

namespace aether {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::filesystem::path smt_tree = std::filesystem::path(AETHER_TEST_DATA_DIR) / "fake-sysfs-smt";

TEST(ReadHostCpus, FakeSmtHostWithAnOfflineCpu) {
  auto host = read_host_cpus(smt_tree / "sys", smt_tree / "proc");
  ASSERT_TRUE(host.ok()) << host.error().describe();

  EXPECT_THAT(host->possible, ElementsAre(0u, 1u, 2u, 3u));
  EXPECT_THAT(host->online, ElementsAre(0u, 1u, 2u));
  EXPECT_THAT(host->isolated, ElementsAre(2u, 3u));
  EXPECT_THAT(host->nohz_full, ElementsAre(2u, 3u));
  ASSERT_EQ(host->cpus.size(), 4u);

  const CpuInfo* cpu0 = host->find(0);
  ASSERT_NE(cpu0, nullptr);
  EXPECT_TRUE(cpu0->online);  // no cpu0/online file: online per the online list
  EXPECT_THAT(cpu0->smt_siblings, ElementsAre(0u, 2u));
  EXPECT_EQ(cpu0->core_id, 0);
  EXPECT_EQ(cpu0->package_id, 0);
  EXPECT_EQ(cpu0->numa_node, 0);  // from the cpu0/node0 link

  const CpuInfo* cpu1 = host->find(1);
  ASSERT_NE(cpu1, nullptr);
  EXPECT_THAT(cpu1->smt_siblings, ElementsAre(1u, 3u));
  EXPECT_EQ(cpu1->core_id, 1);
  EXPECT_EQ(cpu1->numa_node, 0);  // from node/node0/cpulist

  const CpuInfo* cpu3 = host->find(3);
  ASSERT_NE(cpu3, nullptr);
  EXPECT_FALSE(cpu3->online);
  EXPECT_THAT(cpu3->smt_siblings, IsEmpty());  // offline: no topology directory
  EXPECT_EQ(cpu3->core_id, -1);
  EXPECT_EQ(cpu3->package_id, -1);

  EXPECT_EQ(host->find(4), nullptr);
}

TEST(ReadHostCpus, FakeSmtHostCommandLine) {
  auto host = read_host_cpus(smt_tree / "sys", smt_tree / "proc");
  ASSERT_TRUE(host.ok()) << host.error().describe();
  EXPECT_THAT(host->cmdline_isolcpus, ElementsAre(2u, 3u));
  EXPECT_EQ(host->cmdline_isolcpus_flags, "managed_irq,domain");
  EXPECT_THAT(host->cmdline_nohz_full, ElementsAre(2u, 3u));  // the nohz_full=0 after "--" is init's
  EXPECT_THAT(host->cmdline_rcu_nocbs, ElementsAre(2u, 3u));  // 2-N with N = last possible CPU
  EXPECT_EQ(host->cmdline_irqaffinity_raw, "0-1");
  EXPECT_THAT(host->kernel_cmdline, AllOf(HasSubstr("BOOT_IMAGE="), HasSubstr("-- isolcpus=0 nohz_full=0")));
}

// A minimal valid two-CPU tree in a temporary directory, for edge cases.
class TempHost : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_.write("sys/devices/system/cpu/possible", "0-1\n");
    tree_.write("sys/devices/system/cpu/online", "0-1\n");
    tree_.write("sys/devices/system/cpu/cpu0/topology/core_id", "0\n");
    tree_.write("sys/devices/system/cpu/cpu1/topology/core_id", "1\n");
    tree_.write("proc/cmdline", "ro quiet\n");
  }
  Result<HostCpus> read() const { return read_host_cpus(tree_.root() / "sys", tree_.root() / "proc"); }
  std::string read_error() const {
    auto host = read();
    EXPECT_FALSE(host.ok());
    return host.ok() ? std::string() : host.error().message;
  }
  std::string path(std::string_view relative) const { return (tree_.root() / relative).string(); }

  test::TempTree tree_;
};

TEST_F(TempHost, MissingOptionalFilesAreFine) {
  tree_.remove("proc/cmdline");
  auto host = read();
  ASSERT_TRUE(host.ok()) << host.error().describe();
  EXPECT_THAT(host->isolated, IsEmpty());
  EXPECT_THAT(host->nohz_full, IsEmpty());  // kernels without CONFIG_NO_HZ_FULL have no file
  EXPECT_THAT(host->cmdline_isolcpus, IsEmpty());
  EXPECT_EQ(host->kernel_cmdline, "");
  EXPECT_EQ(host->find(1)->numa_node, -1);
  EXPECT_EQ(host->find(1)->package_id, -1);
}

TEST_F(TempHost, MissingOnlineListIsAnErrorNamingTheFile) {
  tree_.remove("sys/devices/system/cpu/online");
  EXPECT_THAT(read_error(), HasSubstr(path("sys/devices/system/cpu/online")));
}

TEST_F(TempHost, GarbageIntegerNamesFileAndValue) {
  tree_.write("sys/devices/system/cpu/cpu1/topology/core_id", "x1\n");
  EXPECT_THAT(read_error(), AllOf(HasSubstr(path("sys/devices/system/cpu/cpu1/topology/core_id")), HasSubstr("\"x1\"")));
}

TEST_F(TempHost, GarbageCpuListNamesFileAndValue) {
  tree_.write("sys/devices/system/cpu/online", "0-1,banana\n");
  EXPECT_THAT(read_error(), AllOf(HasSubstr(path("sys/devices/system/cpu/online")), HasSubstr("\"banana\"")));
}

TEST_F(TempHost, GarbagePerCpuOnlineFlag) {
  tree_.write("sys/devices/system/cpu/cpu1/online", "2\n");
  EXPECT_THAT(read_error(), AllOf(HasSubstr(path("sys/devices/system/cpu/cpu1/online")), HasSubstr("\"2\"")));
}

TEST_F(TempHost, NohzFullReadingNullMeansNone) {
  // Debian's 6.1 and 6.12 print "(null)" there when booted without nohz_full=.
  tree_.write("sys/devices/system/cpu/nohz_full", "(null)\n");
  auto host = read();
  ASSERT_TRUE(host.ok()) << host.error().describe();
  EXPECT_THAT(host->nohz_full, IsEmpty());
}

TEST_F(TempHost, PerCpuOnlineFileWins) {
  tree_.write("sys/devices/system/cpu/cpu1/online", "0\n");
  auto host = read();
  ASSERT_TRUE(host.ok()) << host.error().describe();
  EXPECT_FALSE(host->find(1)->online);
  EXPECT_TRUE(host->find(0)->online);
}

TEST_F(TempHost, IsolcpusWithoutFlags) {
  tree_.write("proc/cmdline", "isolcpus=1 nohz_full=1 rcu_nocbs\n");
  auto host = read();
  ASSERT_TRUE(host.ok()) << host.error().describe();
  EXPECT_THAT(host->cmdline_isolcpus, ElementsAre(1u));
  EXPECT_EQ(host->cmdline_isolcpus_flags, "");
  EXPECT_THAT(host->cmdline_nohz_full, ElementsAre(1u));
  EXPECT_THAT(host->cmdline_rcu_nocbs, IsEmpty());
}

TEST_F(TempHost, IsolcpusWithNohzDomainFlags) {
  tree_.write("proc/cmdline", "isolcpus=nohz,domain,0-1");
  auto host = read();
  ASSERT_TRUE(host.ok()) << host.error().describe();
  EXPECT_EQ(host->cmdline_isolcpus_flags, "nohz,domain");
  EXPECT_THAT(host->cmdline_isolcpus, ElementsAre(0u, 1u));
}

TEST_F(TempHost, IsolcpusFlagsWithoutList) {
  tree_.write("proc/cmdline", "quiet isolcpus=domain\n");
  EXPECT_THAT(read_error(), AllOf(HasSubstr(path("proc/cmdline")), HasSubstr("isolcpus=\"domain\"")));
}

TEST_F(TempHost, BadCommandLineListNamesParameterAndValue) {
  tree_.write("proc/cmdline", "nohz_full=1-x\n");
  EXPECT_THAT(read_error(), AllOf(HasSubstr(path("proc/cmdline")), HasSubstr("nohz_full="), HasSubstr("\"1-x\"")));
}

TEST_F(TempHost, QuotedParametersAndLastOccurrence) {
  tree_.write("proc/cmdline", "dyndbg=\"file foo.c +p\" isolcpus=0 isolcpus=\"1\" irqaffinity=0\n");
  auto host = read();
  ASSERT_TRUE(host.ok()) << host.error().describe();
  EXPECT_THAT(host->cmdline_isolcpus, ElementsAre(1u));
  EXPECT_EQ(host->cmdline_irqaffinity_raw, "0");
}

TEST_F(TempHost, NumaNodeFromNodeCpulist) {
  tree_.write("sys/devices/system/node/node0/cpulist", "0\n");
  tree_.write("sys/devices/system/node/node1/cpulist", "1\n");
  tree_.write("sys/devices/system/node/possible", "0-1\n");  // not a nodeN directory: ignored
  auto host = read();
  ASSERT_TRUE(host.ok()) << host.error().describe();
  EXPECT_EQ(host->find(0)->numa_node, 0);
  EXPECT_EQ(host->find(1)->numa_node, 1);
}

TEST(ReadHostCpus, RealHostIsConsistent) {
  auto host = read_host_cpus();
  ASSERT_TRUE(host.ok()) << host.error().describe();
  ASSERT_FALSE(host->online.empty());
  EXPECT_EQ(host->cpus.size(), host->possible.size());
  for (unsigned cpu : host->online) {
    EXPECT_TRUE(std::binary_search(host->possible.begin(), host->possible.end(), cpu)) << cpu;
    const CpuInfo* info = host->find(cpu);
    ASSERT_NE(info, nullptr) << cpu;
    EXPECT_TRUE(info->online) << cpu;
    if (!info->smt_siblings.empty()) {
      EXPECT_TRUE(std::binary_search(info->smt_siblings.begin(), info->smt_siblings.end(), cpu)) << cpu;
    }
  }
}

}  // namespace
}  // namespace aether
