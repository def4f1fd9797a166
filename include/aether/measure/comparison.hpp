// Factors between two figures, written the way people read them:
// "14.2x lower", "1.31x higher", "same" - never "0.070x", which reads as
// nothing at a glance and hides which side is better.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace aether::measure {

// `value` against `reference`, both positive: "N.NNx lower", "N.NNx higher",
// or "same" when they differ by less than 0.5 %. Three significant digits
// ("1.31x", "14.2x", "140x"). "-" when either is missing (<= 0).
std::string format_factor(double value, double reference);

// Repeated runs of one measurement: the median (of an even count, the mean
// of the middle two) and the range. All zero when there are none.
struct Spread {
  double median = 0, min = 0, max = 0;
  std::size_t runs = 0;
};
[[nodiscard]] Spread spread_of(std::vector<double> values);
// "12.3 [10.1..14.0]" with `decimals` after the point; "-" for no runs.
[[nodiscard]] std::string format_spread(const Spread& spread, int decimals);
// {"median", "min", "max", "runs"}.
[[nodiscard]] nlohmann::json spread_to_json(const Spread& spread);

// A run's scheduling in a label: "other" (SCHED_OTHER) or "fifo50".
[[nodiscard]] std::string schedule_name(const std::optional<int>& fifo_priority);

}  // namespace aether::measure
