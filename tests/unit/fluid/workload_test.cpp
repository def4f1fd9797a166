#include "aether/fluid/workload.hpp"

#include <gtest/gtest.h>

namespace aether::fluid {
namespace {

TEST(WorkloadPhases, ParsesNamesAndSeconds) {
  auto phases = parse_phases("idle:1,syscall:0.5,compute:2,faults:0.25");
  ASSERT_TRUE(phases) << phases.error().describe();
  ASSERT_EQ(phases->size(), 4u);
  EXPECT_EQ((*phases)[0].kind, PhaseKind::idle);
  EXPECT_EQ((*phases)[0].duration, std::chrono::milliseconds(1000));
  EXPECT_EQ((*phases)[1].kind, PhaseKind::syscall);
  EXPECT_EQ((*phases)[1].duration, std::chrono::milliseconds(500));
  EXPECT_EQ((*phases)[2].kind, PhaseKind::compute);
  EXPECT_EQ((*phases)[3].kind, PhaseKind::faults);
  EXPECT_EQ((*phases)[3].duration, std::chrono::milliseconds(250));
}

TEST(WorkloadPhases, BadInputNamesTheBadPart) {
  auto unknown = parse_phases("idle:1,sleepy:2");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("sleepy"), std::string::npos);
  EXPECT_NE(unknown.error().message.find("idle, packets, syscall, compute, faults"), std::string::npos);
  for (const char* bad : {"idle", "idle:", "idle:x", "idle:-1", "idle:0", "idle:1e9", ""}) {
    auto parsed = parse_phases(bad);
    EXPECT_FALSE(parsed) << bad;
  }
}

TEST(WorkloadRun, RunsPhasesInOrderAndCountsWork) {
  auto phases = parse_phases("idle:0.02,syscall:0.05,compute:0.02,faults:0.05,packets:0.05");
  ASSERT_TRUE(phases);
  std::vector<PhaseKind> started;
  auto results = run_workload(*phases, [&](const WorkloadPhase& phase) { started.push_back(phase.kind); });
  ASSERT_TRUE(results) << results.error().describe();
  ASSERT_EQ(started.size(), 5u);
  EXPECT_EQ(started[1], PhaseKind::syscall);
  EXPECT_EQ((*results)[0].operations, 0u);
  EXPECT_GT((*results)[1].operations, 0u);  // syscall rounds
  EXPECT_GT((*results)[2].operations, 0u);  // compute spins
  EXPECT_GT((*results)[3].operations, 0u);  // pages touched
  EXPECT_EQ((*results)[4].phase.kind, PhaseKind::packets);
  EXPECT_GT((*results)[4].operations, 0u);  // datagrams sent to itself and received
}

}  // namespace
}  // namespace aether::fluid
