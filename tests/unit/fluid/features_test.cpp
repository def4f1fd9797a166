#include "aether/fluid/features.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "aether/fluid/telemetry.hpp"
#include "aether/fluid/watch.hpp"

namespace aether::fluid {
namespace {

TEST(FeatureVector, DifferenceIsPerField) {
  CounterSnapshot before;
  before.syscalls = {1, 2, 3, 4, 5};
  before.user_page_faults = 10;
  before.runqueue_wait_ns = 100;
  CounterSnapshot after = before;
  after.syscalls[0] += 7;
  after.user_page_faults += 3;
  after.runqueue_wait_ns += 900;
  after.runqueue_waits += 3;
  const CounterSnapshot delta = difference(after, before);
  EXPECT_EQ(delta.syscalls[0], 7u);
  EXPECT_EQ(delta.syscalls[4], 0u);
  EXPECT_EQ(delta.user_page_faults, 3u);
  EXPECT_EQ(delta.runqueue_wait_ns, 900u);
  // A smaller "after" (snapshots of two programs) clamps instead of wrapping.
  EXPECT_EQ(difference(before, after).user_page_faults, 0u);
}

TEST(FeatureVector, JsonHasEveryFeatureAndSaysWhyPmuIsMissing) {
  FeatureVector features;
  features.interval_index = 3;
  features.interval_ns = 100'000'000;
  features.watched_cpus = 2;
  features.counts.syscalls = {1, 2, 3, 4, 5};
  features.counts.runqueue_wait_ns = 3000;
  features.counts.runqueue_waits = 3;
  features.counts.softirq_ns = 2'000'000;
  features.pmu.unavailable_reason = "no hardware PMU";
  const nlohmann::json json = to_json(features);
  EXPECT_EQ(json["syscalls"]["network"], 2);
  EXPECT_EQ(json["syscalls"]["other"], 5);
  EXPECT_DOUBLE_EQ(json["mean_runqueue_wait_ns"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(json["softirq_share"].get<double>(), 0.01);
  EXPECT_EQ(json["pmu"]["unavailable"], "no hardware PMU");
  EXPECT_FALSE(json["pmu"].contains("instructions_per_cycle"));  // never invented
  EXPECT_EQ(features.total_syscalls(), 15u);
}

// A fake cgroup directory tests the parsing of cgroup.procs only.
TEST(CgroupProcs, ReadsPidsAndNamesBadInput) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("aether-fluid-cg-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "cgroup.procs") << "12\n345\n\n";
  auto procs = read_cgroup_procs(dir);
  ASSERT_TRUE(procs) << procs.error().describe();
  EXPECT_EQ(*procs, (std::vector<pid_t>{12, 345}));

  std::ofstream(dir / "cgroup.procs") << "12\nabc\n";
  auto bad = read_cgroup_procs(dir);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("\"abc\" is not a pid"), std::string::npos);

  std::filesystem::remove(dir / "cgroup.procs");
  auto not_cgroup = read_cgroup_procs(dir);
  ASSERT_FALSE(not_cgroup);
  EXPECT_NE(not_cgroup.error().message.find("no cgroup.procs"), std::string::npos);
  std::filesystem::remove_all(dir);

  auto missing = read_cgroup_procs(dir);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos);
}

}  // namespace
}  // namespace aether::fluid

namespace aether::fluid {
namespace {

TEST(BpfAvailability, MissingBtfIsNamed) {
  const std::string reason = bpf_unavailable_reason("/nonexistent/btf/vmlinux");
  EXPECT_NE(reason.find("BTF missing: /nonexistent/btf/vmlinux does not exist"), std::string::npos) << reason;
  EXPECT_NE(reason.find("CONFIG_DEBUG_INFO_BTF"), std::string::npos) << reason;
}

}  // namespace
}  // namespace aether::fluid
