// `--partition`: where the data plane's workers go, on the fake trees: from
// the apply journal (with and without a cpuset to join, cgroup v2 and v1),
// from the kernel's isolated and nohz_full sets, and the errors.
#include <memory>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/partition/apply.hpp"
#include "aether/partition/worker_cpus.hpp"
#include "fake_host.hpp"

namespace aether::partition {
namespace {

using test::Crash;
using test::FakeHost;
using test::read_file;
using test::TempDirectory;
using test::write_file;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Optional;

WorkerCpuRequest request(std::size_t workers, const std::filesystem::path& journal) {
  WorkerCpuRequest request;
  request.workers = workers;
  request.journal_path = journal;
  return request;
}

// The isolated-v2 host as booted with "nohz_full=2-3 rcu_nocbs=2-3" only
// (nothing boot-isolated, so apply makes a cgroup v2 partition).
std::unique_ptr<FakeHost> nohz_full_only_host(const std::filesystem::path& scratch) {
  auto host = std::make_unique<FakeHost>("isolated-v2", scratch);
  write_file(host->root() / "proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 ro nohz_full=2-3 rcu_nocbs=2-3\n");
  write_file(host->root() / "sys/devices/system/cpu/isolated", "\n");
  return host;
}

ApplyOptions apply_options(std::vector<unsigned> cpus, const std::filesystem::path& journal) {
  ApplyOptions options;
  options.aether_cpus = std::move(cpus);
  options.journal_path = journal;
  return options;
}

TEST(WorkerCpus, KernelIsolatedCpusWithoutJournal) {
  TempDirectory temp;
  const HostAccess host = test::tree_host("isolated-v2");  // isolcpus=managed_irq,domain,2-3
  auto one = aether_cpus_for_workers(host, request(1, temp.path() / "absent.journal"));
  ASSERT_TRUE(one.ok()) << one.error().describe();
  EXPECT_THAT(one->aether_cpus, ElementsAre(2u, 3u));
  EXPECT_THAT(one->worker_cpus, ElementsAre(2u));
  EXPECT_EQ(one->source, "/sys/devices/system/cpu/isolated");
  EXPECT_EQ(one->cpuset, std::nullopt);  // boot isolation: affinity alone reaches them
  EXPECT_EQ(one->cpu_dma_latency_us, std::nullopt);  // only an apply journal asks for it
  EXPECT_THAT(one->notes, IsEmpty());
  EXPECT_EQ(describe_placement(*one), "worker CPU 2 of the Aether CPUs 2-3 (from /sys/devices/system/cpu/isolated)");

  auto two = aether_cpus_for_workers(host, request(2, temp.path() / "absent.journal"));
  ASSERT_TRUE(two.ok()) << two.error().describe();
  EXPECT_THAT(two->worker_cpus, ElementsAre(2u, 3u));
}

TEST(WorkerCpus, TooFewAetherCpus) {
  TempDirectory temp;
  const HostAccess host = test::tree_host("isolated-v2");
  auto three = aether_cpus_for_workers(host, request(3, temp.path() / "absent.journal"));
  ASSERT_FALSE(three.ok());
  EXPECT_THAT(three.error().describe(), HasSubstr("3 worker CPUs needed"));
  EXPECT_THAT(three.error().describe(), HasSubstr("only 2 Aether CPUs (2-3, from /sys/devices/system/cpu/isolated)"));
  EXPECT_THAT(three.error().describe(), HasSubstr("aether partition apply --aether-cpus LIST"));
}

TEST(WorkerCpus, RequestedCpusMustBeAetherCpus) {
  TempDirectory temp;
  const HostAccess host = test::tree_host("isolated-v2");
  auto chosen = request(1, temp.path() / "absent.journal");
  chosen.requested = {3};
  auto three = aether_cpus_for_workers(host, chosen);
  ASSERT_TRUE(three.ok()) << three.error().describe();
  EXPECT_THAT(three->worker_cpus, ElementsAre(3u));

  chosen.requested = {1};
  auto one = aether_cpus_for_workers(host, chosen);
  ASSERT_FALSE(one.ok());
  EXPECT_THAT(one.error().describe(),
              HasSubstr("--cpu 1: CPU 1 is not an Aether CPU (the Aether CPUs are 2-3, from "
                        "/sys/devices/system/cpu/isolated)"));

  auto pair = request(2, temp.path() / "absent.journal");
  pair.requested = {3, 2};  // generator, responder: the order is kept
  pair.requested_option = "--cpus";
  auto ordered = aether_cpus_for_workers(host, pair);
  ASSERT_TRUE(ordered.ok()) << ordered.error().describe();
  EXPECT_THAT(ordered->worker_cpus, ElementsAre(3u, 2u));
  EXPECT_THAT(describe_placement(*ordered), HasSubstr("worker CPUs 3,2 of the Aether CPUs 2-3"));
  pair.requested = {0, 2};
  auto host_cpu = aether_cpus_for_workers(host, pair);
  ASSERT_FALSE(host_cpu.ok());
  EXPECT_THAT(host_cpu.error().describe(), HasSubstr("--cpus 0,2: CPU 0 is not an Aether CPU"));
}

TEST(WorkerCpus, NohzFullWhenNothingIsIsolated) {
  TempDirectory temp;
  auto host = nohz_full_only_host(temp.path());
  auto placement = aether_cpus_for_workers(*host, request(1, temp.path() / "absent.journal"));
  ASSERT_TRUE(placement.ok()) << placement.error().describe();
  EXPECT_EQ(placement->source, "/sys/devices/system/cpu/nohz_full");
  EXPECT_THAT(placement->worker_cpus, ElementsAre(2u));
  ASSERT_EQ(placement->notes.size(), 1u);
  EXPECT_THAT(placement->notes[0], HasSubstr("still balances tasks onto them"));
}

TEST(WorkerCpus, NoPartitionSaysHowToMakeOne) {
  TempDirectory temp;
  auto host = nohz_full_only_host(temp.path());
  write_file(host->root() / "sys/devices/system/cpu/nohz_full", "\n");
  auto placement = aether_cpus_for_workers(*host, request(1, temp.path() / "absent.journal"));
  ASSERT_FALSE(placement.ok());
  const std::string message = placement.error().describe();
  EXPECT_THAT(message, HasSubstr("no Aether CPUs: no apply journal at " + (temp.path() / "absent.journal").string()));
  EXPECT_THAT(message, HasSubstr("`aether partition plan --aether-cpus LIST`"));
  EXPECT_THAT(message, HasSubstr("`aether partition apply --aether-cpus LIST`"));
}

TEST(WorkerCpus, OfflineAetherCpusAreLeftOut) {
  TempDirectory temp;
  auto host = nohz_full_only_host(temp.path());
  write_file(host->root() / "sys/devices/system/cpu/online", "0-2\n");
  auto two = aether_cpus_for_workers(*host, request(2, temp.path() / "absent.journal"));
  ASSERT_FALSE(two.ok());
  EXPECT_THAT(two.error().describe(), HasSubstr("only 1 Aether CPU (2,"));
  auto one = aether_cpus_for_workers(*host, request(1, temp.path() / "absent.journal"));
  ASSERT_TRUE(one.ok()) << one.error().describe();
  EXPECT_THAT(one->aether_cpus, ElementsAre(2u));
  EXPECT_THAT(one->notes, testing::Contains(HasSubstr("Aether CPUs 3 are offline")));
}

TEST(WorkerCpus, JournalOfACgroupV2PartitionAndJoiningIt) {
  TempDirectory temp;
  auto host = nohz_full_only_host(temp.path());
  const auto journal = temp.path() / "partition.journal";
  ASSERT_TRUE(apply_partition(*host, apply_options({2, 3}, journal)).ok());

  auto placement = aether_cpus_for_workers(*host, request(1, journal));
  ASSERT_TRUE(placement.ok()) << placement.error().describe();
  EXPECT_EQ(placement->source, "the apply journal " + journal.string());
  EXPECT_THAT(placement->aether_cpus, ElementsAre(2u, 3u));
  EXPECT_THAT(placement->cpuset, Optional(std::string("/sys/fs/cgroup/aether")));
  EXPECT_THAT(placement->notes, IsEmpty());
  EXPECT_THAT(describe_placement(*placement), HasSubstr(", in cpuset /sys/fs/cgroup/aether"));
  // apply without --keep-idle-states asks the workers to hold cpu_dma_latency at 0.
  EXPECT_THAT(placement->cpu_dma_latency_us, Optional(0));

  // Process 500 ("worker") joins: it leaves the root cgroup for the partition.
  ASSERT_TRUE(join_partition_cpuset(*host, *placement, 500).ok());
  EXPECT_THAT(read_file(host->root() / "sys/fs/cgroup/aether/cgroup.procs"), HasSubstr("500\n"));
  EXPECT_THAT(read_file(host->root() / "sys/fs/cgroup/cgroup.procs"), Not(HasSubstr("500\n")));

  // An invalid partition is still joined, with a note.
  write_file(host->root() / "sys/fs/cgroup/aether/cpuset.cpus.partition", "isolated invalid (Cpu list conflict)\n");
  auto invalid = aether_cpus_for_workers(*host, request(1, journal));
  ASSERT_TRUE(invalid.ok()) << invalid.error().describe();
  EXPECT_TRUE(invalid->cpuset.has_value());
  EXPECT_THAT(invalid->notes, testing::Contains(HasSubstr("the CPUs are not isolated")));

  // An "aether" cgroup with other CPUs is not joined.
  write_file(host->root() / "sys/fs/cgroup/aether/cpuset.cpus", "3\n");
  auto other = aether_cpus_for_workers(*host, request(1, journal));
  ASSERT_TRUE(other.ok()) << other.error().describe();
  EXPECT_EQ(other->cpuset, std::nullopt);
  EXPECT_THAT(other->notes, testing::Contains(HasSubstr("lists CPUs 3, not the journal's 2-3: not joined")));
}

TEST(WorkerCpus, JournalOfACgroupV1Partition) {
  TempDirectory temp;
  FakeHost host("smt-v1", temp.path());
  const auto journal = temp.path() / "partition.journal";
  ASSERT_TRUE(apply_partition(host, apply_options({2, 3, 6, 7}, journal)).ok());
  WorkerCpuRequest pair = request(2, journal);
  auto placement = aether_cpus_for_workers(host, pair);
  ASSERT_TRUE(placement.ok()) << placement.error().describe();
  EXPECT_THAT(placement->worker_cpus, ElementsAre(2u, 3u));
  EXPECT_THAT(placement->cpuset, Optional(std::string("/sys/fs/cgroup/cpuset/aether")));
  ASSERT_TRUE(join_partition_cpuset(host, *placement, 700).ok());
  EXPECT_EQ(read_file(host.root() / "sys/fs/cgroup/cpuset/aether/cgroup.procs"), "700\n");
}

TEST(WorkerCpus, JournalOfBootIsolatedCpusHasNoCpuset) {
  TempDirectory temp;
  FakeHost host("isolated-v2", temp.path());  // isolcpus=domain: apply makes no cpuset
  const auto journal = temp.path() / "partition.journal";
  ASSERT_TRUE(apply_partition(host, apply_options({2, 3}, journal)).ok());
  auto placement = aether_cpus_for_workers(host, request(1, journal));
  ASSERT_TRUE(placement.ok()) << placement.error().describe();
  EXPECT_EQ(placement->source, "the apply journal " + journal.string());
  EXPECT_EQ(placement->cpuset, std::nullopt);
  const int changes = host.changes();
  ASSERT_TRUE(join_partition_cpuset(host, *placement, 500).ok());  // nothing to join: no change
  EXPECT_EQ(host.changes(), changes);
}

TEST(WorkerCpus, UnfinishedApplyIsRefused) {
  TempDirectory temp;
  auto host = nohz_full_only_host(temp.path());
  const auto journal = temp.path() / "partition.journal";
  host->crash_after(3);
  EXPECT_THROW((void)apply_partition(*host, apply_options({2, 3}, journal)), Crash);
  host->crash_after(-1);
  auto placement = aether_cpus_for_workers(*host, request(1, journal));
  ASSERT_FALSE(placement.ok());
  EXPECT_THAT(placement.error().describe(), HasSubstr("the partition for CPUs 2-3 was not finished"));
  EXPECT_THAT(placement.error().describe(), HasSubstr("`aether partition apply --aether-cpus 2-3` again"));
}

// After a reboot the journal's partition is gone (the kernel's defaults are
// back): placing workers from it would put them on CPUs nothing isolates.
TEST(WorkerCpus, JournalOfAnotherBootIsRefused) {
  TempDirectory temp;
  auto host = nohz_full_only_host(temp.path());
  const auto journal = temp.path() / "partition.journal";
  ASSERT_TRUE(apply_partition(*host, apply_options({2, 3}, journal)).ok());
  ASSERT_TRUE(aether_cpus_for_workers(*host, request(1, journal)).ok());
  write_file(host->root() / "proc/sys/kernel/random/boot_id", "17f0aa00-0000-4000-8000-000000000000\n");
  auto placement = aether_cpus_for_workers(*host, request(1, journal));
  ASSERT_FALSE(placement.ok());
  EXPECT_EQ(placement.error().message,
            "--partition: the apply journal " + journal.string() +
                " is from another boot (written in boot 3f1c9a52-8d1e-4b6a-9c0f-2e7d5a4b8c61 (kernel 6.1.0-28-amd64), "
                "this is boot 17f0aa00-0000-4000-8000-000000000000 (kernel 6.1.0-28-amd64)): the partition it "
                "describes (CPUs 2-3) was undone by the reboot, so no worker is placed from it; run `aether partition "
                "revert` (it restores nothing and removes the journal), then `aether partition apply --aether-cpus "
                "2-3` again, or drop --partition");
}

TEST(WorkerCpus, UnreadableJournalIsAnError) {
  TempDirectory temp;
  const HostAccess host = test::tree_host("isolated-v2");
  const auto journal = temp.path() / "partition.journal";
  write_file(journal, "not a journal\n");
  auto placement = aether_cpus_for_workers(host, request(1, journal));
  ASSERT_FALSE(placement.ok());
  EXPECT_THAT(placement.error().describe(), HasSubstr("(the apply journal)"));
}

}  // namespace
}  // namespace aether::partition
