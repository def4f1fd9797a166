#include "aether/stats/duration_format.hpp"

#include <fmt/format.h>

namespace aether {

std::string format_duration_ns(std::uint64_t ns) {
  const double value = static_cast<double>(ns);
  auto three_digits = [](double scaled, const char* unit) {
    if (scaled >= 100) return fmt::format("{:.0f} {}", scaled, unit);
    if (scaled >= 10) return fmt::format("{:.1f} {}", scaled, unit);
    return fmt::format("{:.2f} {}", scaled, unit);
  };
  if (ns < 1000) return fmt::format("{} ns", ns);
  if (ns < 1'000'000) return three_digits(value / 1e3, "us");
  if (ns < 1'000'000'000) return three_digits(value / 1e6, "ms");
  return three_digits(value / 1e9, "s");
}

}  // namespace aether
