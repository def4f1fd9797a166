// The resize safety rules on a virtual clock: floor, ceiling and the host's
// last CPU; hysteresis; minimum dwell; the rate limit; no oscillation.
#include "aether/fluid/resize_governor.hpp"

#include <gtest/gtest.h>

namespace aether::fluid {
namespace {

using namespace std::chrono_literals;
using Clock = ResizeGovernor::Clock;

ResizeRules quick_rules() {
  ResizeRules rules;
  rules.floor_cpus = 1;
  rules.ceiling_cpus = 6;
  rules.grow_after = 1;
  rules.shrink_after = 3;
  rules.min_dwell = 0ms;
  rules.max_resizes = 100;
  rules.rate_window = 1000ms;
  return rules;
}

TEST(ResizeGovernor, NeverBelowTheFloorNorAboveTheCeilingNorTheHostsLastCpu) {
  ResizeRules rules = quick_rules();
  rules.floor_cpus = 2;
  rules.ceiling_cpus = 16;
  auto governor = ResizeGovernor::create(rules, 4, 2);  // 4 CPUs to share: the host keeps one
  ASSERT_TRUE(governor) << governor.error().message;
  EXPECT_EQ(governor->upper_bound(), 3u);
  Clock::time_point now{};
  const auto grown = governor->decide(64, now += 100ms);
  EXPECT_EQ(grown.outcome, ResizeOutcome::grow);
  EXPECT_EQ(grown.cpus, 3u);  // not 4: that was the host's last CPU
  EXPECT_EQ(governor->decide(64, now += 100ms).outcome, ResizeOutcome::hold);
  for (int i = 0; i < 3; ++i) governor->decide(0, now += 100ms);
  EXPECT_EQ(governor->cpus(), 2u);  // the floor, not 0
}

TEST(ResizeGovernor, RefusesRulesThatBreakASafetyRuleNamingIt) {
  ResizeRules rules = quick_rules();
  const auto message = [](const ResizeRules& bad, unsigned host, unsigned initial) {
    auto governor = ResizeGovernor::create(bad, host, initial);
    return governor ? std::string("accepted") : governor.error().message;
  };
  rules.floor_cpus = 0;
  EXPECT_NE(message(rules, 4, 1).find("floor of CPUs is 0"), std::string::npos);
  rules.floor_cpus = 4;
  EXPECT_NE(message(rules, 4, 3).find("host partition's last CPU"), std::string::npos);
  rules = quick_rules();
  EXPECT_NE(message(rules, 1, 1).find("nothing is left to resize"), std::string::npos);
  rules.ceiling_cpus = 0;
  EXPECT_NE(message(rules, 4, 1).find("ceiling (0 CPUs) is below the floor"), std::string::npos);
  rules = quick_rules();
  rules.shrink_after = 0;
  EXPECT_NE(message(rules, 4, 1).find("at least 1"), std::string::npos);
  rules = quick_rules();
  rules.max_resizes = 0;
  EXPECT_NE(message(rules, 4, 1).find("rate limit allows no resize"), std::string::npos);
  EXPECT_NE(message(quick_rules(), 4, 4).find("holds 4 CPUs now, outside the allowed 1..3"), std::string::npos);
}

TEST(ResizeGovernor, HysteresisShrinksOnlyAfterConsecutiveIntervals) {
  auto governor = ResizeGovernor::create(quick_rules(), 8, 4);
  ASSERT_TRUE(governor);
  Clock::time_point now{};
  EXPECT_EQ(governor->decide(2, now += 100ms).outcome, ResizeOutcome::hysteresis);
  EXPECT_EQ(governor->decide(2, now += 100ms).outcome, ResizeOutcome::hysteresis);
  EXPECT_EQ(governor->decide(4, now += 100ms).outcome, ResizeOutcome::hold);  // restarts the count
  EXPECT_EQ(governor->decide(2, now += 100ms).outcome, ResizeOutcome::hysteresis);
  EXPECT_EQ(governor->decide(2, now += 100ms).outcome, ResizeOutcome::hysteresis);
  const auto shrunk = governor->decide(2, now += 100ms);
  EXPECT_EQ(shrunk.outcome, ResizeOutcome::shrink);
  EXPECT_EQ(shrunk.cpus, 2u);
  EXPECT_EQ(governor->decide(5, now += 100ms).outcome, ResizeOutcome::grow);  // grow_after 1: at once
}

TEST(ResizeGovernor, MinimumDwellHoldsTheLastSize) {
  ResizeRules rules = quick_rules();
  rules.min_dwell = 500ms;
  auto governor = ResizeGovernor::create(rules, 8, 1);
  ASSERT_TRUE(governor);
  Clock::time_point now{};
  EXPECT_EQ(governor->decide(4, now += 100ms).outcome, ResizeOutcome::grow);
  EXPECT_EQ(governor->decide(6, now += 100ms).outcome, ResizeOutcome::dwell);
  EXPECT_EQ(governor->decide(6, now += 300ms).outcome, ResizeOutcome::dwell);  // 400 ms after the grow
  const auto later = governor->decide(6, now += 100ms);                         // 500 ms after
  EXPECT_EQ(later.outcome, ResizeOutcome::grow);
  EXPECT_EQ(later.cpus, 6u);
}

TEST(ResizeGovernor, RateLimitCountsResizesInTheWindow) {
  ResizeRules rules = quick_rules();
  rules.shrink_after = 1;
  rules.max_resizes = 2;
  rules.rate_window = 1000ms;
  auto governor = ResizeGovernor::create(rules, 8, 1);
  ASSERT_TRUE(governor);
  Clock::time_point now{};
  EXPECT_EQ(governor->decide(3, now += 100ms).outcome, ResizeOutcome::grow);    // t=100
  EXPECT_EQ(governor->decide(1, now += 100ms).outcome, ResizeOutcome::shrink);  // t=200
  EXPECT_EQ(governor->decide(3, now += 100ms).outcome, ResizeOutcome::rate_limited);
  now = Clock::time_point{} + 1099ms;
  EXPECT_EQ(governor->decide(3, now).outcome, ResizeOutcome::rate_limited);  // the t=100 one is 999 ms old
  now = Clock::time_point{} + 1100ms;
  EXPECT_EQ(governor->decide(3, now).outcome, ResizeOutcome::grow);
}

TEST(ResizeGovernor, AnOscillatingPhaseDoesNotMakeThePartitionOscillate) {
  // A phase that flips between 1 and 6 CPUs every 100 ms interval for a minute,
  // under a latency-like policy (grow at once, shrink after 10 intervals, 1 s dwell):
  // the partition grows once and stays, never more than 1 resize/s.
  ResizeRules rules = quick_rules();
  rules.shrink_after = 10;
  rules.min_dwell = 1000ms;
  rules.max_resizes = 5;
  rules.rate_window = 10'000ms;
  auto governor = ResizeGovernor::create(rules, 8, 1);
  ASSERT_TRUE(governor);
  Clock::time_point now{};
  for (int interval = 0; interval < 600; ++interval) governor->decide(interval % 2 == 0 ? 6 : 1, now += 100ms);
  EXPECT_EQ(governor->resizes(), 1u);
  EXPECT_EQ(governor->cpus(), 6u);
}

TEST(ResizeGovernor, OutcomesHaveNames) {
  EXPECT_EQ(outcome_name(ResizeOutcome::rate_limited), "rate-limited");
  EXPECT_EQ(outcome_name(ResizeOutcome::hysteresis), "hysteresis");
}

}  // namespace
}  // namespace aether::fluid
