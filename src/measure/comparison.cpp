#include "aether/measure/comparison.hpp"

#include <fmt/format.h>

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

}  // namespace aether::measure
