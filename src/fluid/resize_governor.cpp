#include "aether/fluid/resize_governor.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace aether::fluid {

std::string_view outcome_name(ResizeOutcome outcome) noexcept {
  switch (outcome) {
    case ResizeOutcome::hold: return "hold";
    case ResizeOutcome::grow: return "grow";
    case ResizeOutcome::shrink: return "shrink";
    case ResizeOutcome::hysteresis: return "hysteresis";
    case ResizeOutcome::dwell: return "dwell";
    case ResizeOutcome::rate_limited: return "rate-limited";
  }
  return "hold";
}

Result<ResizeGovernor> ResizeGovernor::create(const ResizeRules& rules, unsigned host_cpus, unsigned initial_cpus) {
  if (rules.floor_cpus == 0) return invalid_argument("the floor of CPUs is 0: an application needs at least one CPU");
  if (host_cpus < 2) {
    return invalid_argument(fmt::format("{} CPU(s) to share: the host partition keeps at least one, so nothing is left to resize", host_cpus));
  }
  if (rules.floor_cpus > host_cpus - 1) {
    return invalid_argument(fmt::format("a floor of {} CPUs would take the host partition's last CPU (of {} to share)", rules.floor_cpus, host_cpus));
  }
  if (rules.ceiling_cpus < rules.floor_cpus) {
    return invalid_argument(fmt::format("the ceiling ({} CPUs) is below the floor ({})", rules.ceiling_cpus, rules.floor_cpus));
  }
  if (rules.grow_after == 0 || rules.shrink_after == 0) return invalid_argument("grow_after and shrink_after count intervals: at least 1");
  if (rules.max_resizes == 0 || rules.rate_window.count() <= 0) {
    return invalid_argument("the rate limit allows no resize at all (max_resizes 0 or an empty rate window)");
  }
  if (rules.min_dwell.count() < 0) return invalid_argument("the minimum dwell is negative");
  const unsigned upper_bound = std::min(rules.ceiling_cpus, host_cpus - 1);
  if (initial_cpus < rules.floor_cpus || initial_cpus > upper_bound) {
    return invalid_argument(fmt::format("the application holds {} CPUs now, outside the allowed {}..{}", initial_cpus, rules.floor_cpus, upper_bound));
  }
  return ResizeGovernor(rules, upper_bound, initial_cpus);
}

ResizeDecision ResizeGovernor::decide(unsigned wanted, Clock::time_point now) {
  ResizeDecision decision;
  decision.wanted = std::clamp(wanted, rules_.floor_cpus, upper_bound_);  // rule 1
  decision.cpus = cpus_;
  if (decision.wanted == cpus_) {
    grow_streak_ = shrink_streak_ = 0;
    decision.outcome = ResizeOutcome::hold;
    return decision;
  }
  const bool growing = decision.wanted > cpus_;
  // Rule 2: consecutive intervals in one direction; the other direction restarts.
  if (growing) {
    ++grow_streak_;
    shrink_streak_ = 0;
  } else {
    ++shrink_streak_;
    grow_streak_ = 0;
  }
  if ((growing ? grow_streak_ : shrink_streak_) < (growing ? rules_.grow_after : rules_.shrink_after)) {
    decision.outcome = ResizeOutcome::hysteresis;
    return decision;
  }
  if (resized_before_ && now - last_resize_ < rules_.min_dwell) {  // rule 3
    decision.outcome = ResizeOutcome::dwell;
    return decision;
  }
  // Rule 4: forget resizes older than the window, then count the rest.
  std::erase_if(recent_resizes_, [&](Clock::time_point at) { return now - at >= rules_.rate_window; });
  if (recent_resizes_.size() >= rules_.max_resizes) {
    decision.outcome = ResizeOutcome::rate_limited;
    return decision;
  }
  cpus_ = decision.wanted;
  decision.cpus = cpus_;
  decision.outcome = growing ? ResizeOutcome::grow : ResizeOutcome::shrink;
  grow_streak_ = shrink_streak_ = 0;
  resized_before_ = true;
  last_resize_ = now;
  recent_resizes_.push_back(now);
  ++resizes_;
  return decision;
}

}  // namespace aether::fluid
