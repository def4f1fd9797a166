// Policy files: the goals' defaults, overrides, and every kind of bad input
// refused with FILE:LINE:COL and the key at fault.
#include "aether/fluid/policy.hpp"

#include <gtest/gtest.h>

#include "aether/fluid/actuator.hpp"

namespace aether::fluid {
namespace {

using namespace std::chrono_literals;

std::string refusal(std::string_view text) {
  auto policy = parse_policy(text, "p.toml");
  EXPECT_FALSE(policy) << "accepted:\n" << text;
  return policy ? std::string() : policy.error().message;
}

TEST(FluidPolicy, GoalsGiveTheirDefaults) {
  auto latency = parse_policy("goal = \"latency\"\n", "p.toml");
  ASSERT_TRUE(latency) << latency.error().message;
  EXPECT_EQ(latency->rules.grow_after, 1u);
  EXPECT_EQ(latency->rules.shrink_after, 10u);
  EXPECT_EQ(latency->idle_max_exit_latency_us, 0u);
  EXPECT_EQ(latency->cpus_for("compute"), policy_max_cpus);
  EXPECT_EQ(latency->cpus_for("idle"), 1u);
  EXPECT_EQ(latency->interval, 100ms);

  auto power = parse_policy("goal = \"power\"\n", "p.toml");
  ASSERT_TRUE(power) << power.error().message;
  EXPECT_EQ(power->rules.shrink_after, 1u);
  EXPECT_GT(power->rules.grow_after, latency->rules.grow_after);
  EXPECT_FALSE(power->idle_max_exit_latency_us.has_value());
  EXPECT_EQ(power->cpus_for("some-new-phase"), 1u);

  auto throughput = parse_policy("goal = \"throughput\"\n", "p.toml");
  ASSERT_TRUE(throughput) << throughput.error().message;
  EXPECT_EQ(throughput->goal, PolicyGoal::throughput);
  EXPECT_EQ(goal_name(throughput->goal), "throughput");
}

TEST(FluidPolicy, KeysOverrideTheGoal) {
  auto policy = parse_policy(R"(goal = "latency"
interval_ms = 250
[resize]
floor = 2
ceiling = 6
grow_after = 2
shrink_after = 3
min_dwell_ms = 0
max_resizes = 7
rate_window_ms = 5000
[phases]
idle = 2
compute = "max"
busy = 5
default = 3
[idle_states]
max_exit_latency_us = "any"
)",
                             "p.toml");
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_EQ(policy->interval, 250ms);
  EXPECT_EQ(policy->rules.floor_cpus, 2u);
  EXPECT_EQ(policy->rules.ceiling_cpus, 6u);
  EXPECT_EQ(policy->rules.grow_after, 2u);
  EXPECT_EQ(policy->rules.shrink_after, 3u);
  EXPECT_EQ(policy->rules.min_dwell, 0ms);
  EXPECT_EQ(policy->rules.max_resizes, 7u);
  EXPECT_EQ(policy->rules.rate_window, 5000ms);
  EXPECT_EQ(policy->cpus_for("idle"), 2u);
  EXPECT_EQ(policy->cpus_for("compute"), policy_max_cpus);
  EXPECT_EQ(policy->cpus_for("busy"), 5u);
  EXPECT_EQ(policy->cpus_for("packets"), policy_max_cpus);  // the latency preset's, kept
  EXPECT_EQ(policy->cpus_for("unlisted"), 3u);
  EXPECT_FALSE(policy->idle_max_exit_latency_us.has_value());
  EXPECT_EQ(policy->source, "p.toml");
}

TEST(FluidPolicy, UnknownKeysAreRefusedWithTheirPlace) {
  EXPECT_EQ(refusal("goal = \"latency\"\ncolour = 3\n"),
            "p.toml:2:1: colour: unknown key; allowed here: goal, interval_ms, resize, phases, idle_states");
  EXPECT_EQ(refusal("goal = \"latency\"\n[resize]\n  flor = 1\n"),
            "p.toml:3:3: resize.flor: unknown key; allowed here: floor, ceiling, grow_after, shrink_after, "
            "min_dwell_ms, max_resizes, rate_window_ms");
  EXPECT_EQ(refusal("goal = \"power\"\n[idle_states]\ndeepest = 2\n"),
            "p.toml:3:1: idle_states.deepest: unknown key; allowed here: max_exit_latency_us");
}

TEST(FluidPolicy, BadValuesAreNamed) {
  EXPECT_EQ(refusal("interval_ms = 100\n"), "p.toml:1:1: goal: missing; one of latency, throughput, power");
  EXPECT_EQ(refusal("goal = \"fast\"\n"), "p.toml:1:8: goal: expected \"latency\", \"throughput\" or \"power\"");
  EXPECT_EQ(refusal("goal = \"latency\"\ninterval_ms = 5\n"),
            "p.toml:2:15: interval_ms: 5 is out of range; allowed: 10..60000");
  EXPECT_EQ(refusal("goal = \"latency\"\n[resize]\nfloor = \"one\"\n"), "p.toml:3:9: resize.floor: expected an integer");
  EXPECT_EQ(refusal("goal = \"latency\"\n[resize]\nfloor = 0\n"),
            "p.toml:3:9: resize.floor: 0 is out of range; allowed: 1..4096");
  EXPECT_EQ(refusal("goal = \"latency\"\n[resize]\nfloor = 4\nceiling = 2\n"),
            "p.toml: resize.ceiling (2) is below resize.floor (4)");
  EXPECT_EQ(refusal("goal = \"latency\"\n[phases]\ncompute = 0\n"),
            "p.toml:3:11: phases.compute: expected a number of CPUs (>= 1) or \"max\"");
  EXPECT_NE(refusal("goal = \"latency\"\n[phases]\nCompute = 2\n").find("p.toml:3:1: phases.Compute: "),
            std::string::npos);
  EXPECT_EQ(refusal("goal = \"latency\"\n[idle_states]\nmax_exit_latency_us = true\n"),
            "p.toml:3:23: idle_states.max_exit_latency_us: expected microseconds (0..1000000) or \"any\"");
  EXPECT_EQ(refusal("goal = \"latency\"\nresize = 3\n"), "p.toml:2:10: resize: expected a table ([resize])");
  EXPECT_NE(refusal("goal = \"latency\"\n[resize\n").find("p.toml:2:"), std::string::npos);
}

TEST(FluidPolicy, MissingFileIsNamed) {
  auto policy = load_policy("/nonexistent/fluid-policy.toml");
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().message, "cannot read the policy /nonexistent/fluid-policy.toml");
}

// /proc/TID/stat as proc(5) lays it out; comm with spaces and parentheses.
TEST(FluidActuator, ThreadPlaceIsReadFromStat) {
  const std::string tail =
      " 1 1 1 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 12345 1000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 "
      "3 0 0 0 0 0";
  auto running = read_thread_place("42 (a (b) c) R" + tail);
  ASSERT_TRUE(running.has_value());
  EXPECT_TRUE(running->runnable);
  EXPECT_EQ(running->cpu, 3u);
  auto sleeping = read_thread_place("42 (x) S" + tail);
  ASSERT_TRUE(sleeping.has_value());
  EXPECT_FALSE(sleeping->runnable);
  EXPECT_FALSE(read_thread_place("42 (x) R 1 2").has_value());
  EXPECT_FALSE(read_thread_place("garbage").has_value());
}

}  // namespace
}  // namespace aether::fluid
