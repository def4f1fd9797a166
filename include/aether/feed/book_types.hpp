// What the order books (order_book.hpp, reference_book.hpp) share: sides,
// aggregated price levels and the counters for messages a book cannot apply.
//
// Both books apply the same rules to an inconsistent stream, so they can be
// compared message by message (shared specs section 3 for the semantics):
//   Add with locate 0, side not B/S, reference 0 or 0 shares: refused (bad_add).
//   Add of a live reference: refused (duplicate_order).
//   Execute/cancel/delete/replace of an unknown reference: ignored (unknown_order).
//   Execute or cancel of more shares than remain: the order is removed (overfill).
//   Replace to a live reference or to 0 shares: the original is removed and
//   nothing is added (duplicate_order / bad_add).
#pragma once

#include <cstdint>

namespace aether::feed {

enum class Side : std::uint8_t { buy = 0, sell = 1 };

struct PriceLevel {
  std::uint32_t price = 0;   // Price(4), ×10^4
  std::uint32_t orders = 0;  // live orders at this price
  std::uint64_t shares = 0;  // their displayed shares
  friend bool operator==(const PriceLevel&, const PriceLevel&) = default;
};
static_assert(sizeof(PriceLevel) == 16);

struct BookAnomalies {
  std::uint64_t bad_add = 0;
  std::uint64_t duplicate_order = 0;
  std::uint64_t unknown_order = 0;
  std::uint64_t overfill = 0;
  friend bool operator==(const BookAnomalies&, const BookAnomalies&) = default;
};

// ITCH Buy/Sell Indicator 'B' / 'S'; false for anything else.
[[nodiscard]] constexpr bool side_from_wire(char indicator, Side& side) noexcept {
  if (indicator != 'B' && indicator != 'S') return false;
  side = indicator == 'B' ? Side::buy : Side::sell;
  return true;
}

}  // namespace aether::feed
