// A fluid partition policy (issue 14 item 4): what the user wants (latency,
// throughput or power), how many CPUs each phase asks for, the resize rules
// of resize_governor.hpp and the idle-state rule, read from a TOML file
// (docs/fluid.md "Policies"):
//
//   goal = "latency"            # required: latency | throughput | power (the defaults)
//   interval_ms = 100           # telemetry interval, 10..60000
//   [resize]                    # each key optional, overriding the goal's default
//   floor = 1                   # CPUs, >= 1
//   ceiling = 8                 # CPUs, >= floor
//   grow_after = 1              # consecutive intervals asking for more, >= 1
//   shrink_after = 10           # consecutive intervals asking for fewer, >= 1
//   min_dwell_ms = 500          # no resize sooner than this after the last
//   max_resizes = 5             # at most this many ...
//   rate_window_ms = 10000      # ... in any window this long
//   [phases]                    # CPUs a phase asks for: a number or "max" (the ceiling)
//   idle = 1
//   compute = "max"
//   default = 1                 # a phase not listed
//   [idle_states]
//   max_exit_latency_us = 0     # cpuidle states with a longer exit latency are
//                               # disabled on the application's CPUs; "any": none
//
// Every key is checked against the keys its table allows, so a typo is
// refused with FILE:LINE:COLUMN and the allowed keys; phase names follow
// the trace labels' rule (trace.hpp check_label).
#pragma once

#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "aether/core/result.hpp"
#include "aether/fluid/resize_governor.hpp"

namespace aether::fluid {

enum class PolicyGoal { latency, throughput, power };

// "as many as the ceiling allows" in Policy::phase_cpus.
inline constexpr unsigned policy_max_cpus = std::numeric_limits<unsigned>::max();

struct Policy {
  PolicyGoal goal = PolicyGoal::latency;
  std::chrono::milliseconds interval{100};
  ResizeRules rules;
  std::map<std::string, unsigned, std::less<>> phase_cpus;  // phase -> CPUs asked (policy_max_cpus: the ceiling)
  unsigned default_cpus = 1;                                // a phase not in phase_cpus
  // cpuidle states with an exit latency above this are disabled on the
  // application's CPUs; nullopt: every state allowed.
  std::optional<unsigned> idle_max_exit_latency_us;
  std::string source;  // the file it came from, "" for a preset

  // CPUs `phase` asks for (before the governor's clamping).
  [[nodiscard]] unsigned cpus_for(std::string_view phase) const;
};

[[nodiscard]] std::string_view goal_name(PolicyGoal goal) noexcept;

// The goal's defaults (docs/fluid.md "Policies"): latency grows after one
// interval and shrinks after ten, idle states off; throughput grows after two,
// shrinks after five, shallow idle states; power grows after three, shrinks
// after one, asks fewer CPUs per phase, every idle state allowed.
Policy policy_preset(PolicyGoal goal);

// Errors: "FILE:LINE:COL: KEY: ..." (unknown key with the allowed ones, wrong
// type, out of range, bad phase name), TOML syntax errors with their place,
// and rules the governor would refuse (ceiling below floor).
Result<Policy> parse_policy(std::string_view text, std::string_view source);
Result<Policy> load_policy(const std::filesystem::path& path);

}  // namespace aether::fluid
