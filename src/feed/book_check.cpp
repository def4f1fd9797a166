// BookCheck::compare_all (see book_check.hpp).
#include "aether/feed/book_check.hpp"

#include <algorithm>

namespace aether::feed {

std::uint64_t BookCheck::compare_all() const {
  std::uint64_t differences = 0;
  for (std::uint32_t locate = 0; locate <= highest_locate_; ++locate) {
    for (Side side : {Side::buy, Side::sell}) {
      const auto fast_levels = fast_.levels(static_cast<std::uint16_t>(locate), side);
      const auto reference_levels = reference_.levels(static_cast<std::uint16_t>(locate), side);
      if (!std::equal(fast_levels.begin(), fast_levels.end(), reference_levels.begin(), reference_levels.end())) {
        ++differences;
      }
    }
  }
  if (fast_.order_count() != reference_.order_count()) ++differences;
  if (fast_.anomalies() != reference_.anomalies()) ++differences;
  return differences;
}

}  // namespace aether::feed
