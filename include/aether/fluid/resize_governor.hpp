// The safety rules of resizing an application's partition (issue 14 item 3),
// apart from the act of resizing: given how many CPUs the current phase asks
// for, interval by interval, how many the application gets now. Pure logic on
// a caller-given clock (no I/O), so every rule is tested without privileges
// and deterministically. The cpuset writer that acts on its decisions (through
// the partition journal) is not written yet (docs/fluid.md).
//
// The rules, in the order they are applied:
//   1. never fewer than `floor_cpus`, never more than `ceiling_cpus`, and never
//      the host partition's last CPU (at most host_cpus - 1);
//   2. hysteresis: a grow needs `grow_after` consecutive intervals asking for
//      more, a shrink `shrink_after` asking for fewer (latency policies grow
//      early and shrink late); an interval asking for the current size, or the
//      other way, restarts the count;
//   3. minimum dwell: no resize sooner than `min_dwell` after the last one;
//   4. rate limit: at most `max_resizes` resizes in any `rate_window`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"

namespace aether::fluid {

struct ResizeRules {
  unsigned floor_cpus = 1;
  unsigned ceiling_cpus = 1024;
  unsigned grow_after = 1;    // consecutive intervals, >= 1
  unsigned shrink_after = 5;  // consecutive intervals, >= 1
  std::chrono::milliseconds min_dwell{500};
  unsigned max_resizes = 5;  // >= 1, in any rate_window
  std::chrono::milliseconds rate_window{10'000};
};

enum class ResizeOutcome {
  hold,          // already the size asked for
  grow,          // resized up
  shrink,        // resized down
  hysteresis,    // asked for a change, not for enough consecutive intervals yet
  dwell,         // the last resize was less than min_dwell ago
  rate_limited,  // max_resizes already happened in the rate window
};

struct ResizeDecision {
  unsigned cpus = 0;    // the size to hold from now on
  unsigned wanted = 0;  // what was asked, after rule 1 (clamped)
  ResizeOutcome outcome = ResizeOutcome::hold;
  [[nodiscard]] bool changed() const noexcept { return outcome == ResizeOutcome::grow || outcome == ResizeOutcome::shrink; }
};

[[nodiscard]] std::string_view outcome_name(ResizeOutcome outcome) noexcept;

class ResizeGovernor {
 public:
  using Clock = std::chrono::steady_clock;

  // `host_cpus`: the CPUs the application and the host share between them
  // (the application's now plus the host partition's). Errors name the rule:
  // a floor of 0, a floor that would take the host's last CPU, a ceiling
  // below the floor, a zero hysteresis count or rate, an initial size
  // outside the bounds.
  static Result<ResizeGovernor> create(const ResizeRules& rules, unsigned host_cpus, unsigned initial_cpus);

  // One interval: the phase asks for `wanted` CPUs at `now` (never earlier
  // than the previous call's).
  ResizeDecision decide(unsigned wanted, Clock::time_point now);

  [[nodiscard]] unsigned cpus() const noexcept { return cpus_; }
  [[nodiscard]] unsigned upper_bound() const noexcept { return upper_bound_; }
  [[nodiscard]] std::uint64_t resizes() const noexcept { return resizes_; }

 private:
  ResizeGovernor(const ResizeRules& rules, unsigned upper_bound, unsigned initial_cpus)
      : rules_(rules), upper_bound_(upper_bound), cpus_(initial_cpus) {}

  ResizeRules rules_;
  unsigned upper_bound_;  // min(ceiling, host_cpus - 1)
  unsigned cpus_;
  unsigned grow_streak_ = 0;
  unsigned shrink_streak_ = 0;
  bool resized_before_ = false;
  Clock::time_point last_resize_{};
  std::vector<Clock::time_point> recent_resizes_;  // within the rate window, oldest first
  std::uint64_t resizes_ = 0;
};

}  // namespace aether::fluid
