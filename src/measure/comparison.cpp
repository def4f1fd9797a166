#include "aether/measure/comparison.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace aether::measure {

std::string format_factor(double value, double reference) {
  if (!(value > 0) || !(reference > 0)) return "-";
  const bool lower = value < reference;
  const double factor = lower ? reference / value : value / reference;
  if (factor < 1.005) return "same";
  const char* direction = lower ? "lower" : "higher";
  if (factor < 9.995) return fmt::format("{:.2f}x {}", factor, direction);
  if (factor < 99.95) return fmt::format("{:.1f}x {}", factor, direction);
  return fmt::format("{:.0f}x {}", factor, direction);
}

Spread spread_of(std::vector<double> values) {
  Spread spread;
  spread.runs = values.size();
  if (values.empty()) return spread;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  spread.median = values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
  spread.min = values.front();
  spread.max = values.back();
  return spread;
}

std::string format_spread(const Spread& spread, int decimals) {
  if (spread.runs == 0) return "-";
  return fmt::format("{:.{}f} [{:.{}f}..{:.{}f}]", spread.median, decimals, spread.min, decimals, spread.max, decimals);
}

nlohmann::json spread_to_json(const Spread& spread) {
  return {{"median", spread.median}, {"min", spread.min}, {"max", spread.max}, {"runs", spread.runs}};
}

std::string schedule_name(const std::optional<int>& fifo_priority) {
  return fifo_priority ? fmt::format("fifo{}", *fifo_priority) : "other";
}

}  // namespace aether::measure
