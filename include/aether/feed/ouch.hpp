// OUCH 4.2 Enter Order: what the handler's strategy sends (shared specs
// section 4, from the OMI OUCH 4.2 dissector and OUCH4.2.pdf).
//
// 49 bytes, big-endian integers, Alpha fields space-padded. Aether sends
// the message as the payload of one UDP datagram (no SoupBinTCP session: the
// benchmark measures the path to the wire, not an exchange login).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "aether/feed/big_endian.hpp"

namespace aether::feed::ouch {

struct EnterOrder {
  static constexpr char type = 'O';
  char message_type;                 // 'O'
  Alpha<14> order_token;             // day-unique per firm
  char buy_sell_indicator;           // B, S, T (short), E (short exempt)
  BigEndian<4> shares;
  Alpha<8> stock;
  BigEndian<4> price;                // Price(4), ×10^4
  BigEndian<4> time_in_force;        // seconds; 0 = immediate or cancel
  Alpha<4> firm;
  char display;                      // Y displayed
  char capacity;                     // A agency, P principal, R riskless, O other
  char intermarket_sweep_eligibility;  // Y, N
  BigEndian<4> minimum_quantity;
  char cross_type;                   // N none
  char customer_type;                // R retail, N not retail, ' ' default
};
static_assert(sizeof(EnterOrder) == 49);
static_assert(offsetof(EnterOrder, buy_sell_indicator) == 15 && offsetof(EnterOrder, shares) == 16);
static_assert(offsetof(EnterOrder, stock) == 20 && offsetof(EnterOrder, price) == 28);
static_assert(offsetof(EnterOrder, time_in_force) == 32 && offsetof(EnterOrder, firm) == 36);
static_assert(offsetof(EnterOrder, display) == 40 && offsetof(EnterOrder, minimum_quantity) == 43);
static_assert(offsetof(EnterOrder, cross_type) == 47 && offsetof(EnterOrder, customer_type) == 48);

// A day order (time in force 99,999 s = "market hours", OUCH 4.2) for
// `shares` of `stock` at `price`, token = `number` in decimal, zero-padded
// (the handler uses the triggering message's sequence number: unique, and
// it lets the publisher time the order against that message).
[[nodiscard]] inline EnterOrder make_enter_order(std::uint64_t number, char side, std::uint32_t shares,
                                                 const Alpha<8>& stock, std::uint32_t price) noexcept {
  EnterOrder order{};
  order.message_type = EnterOrder::type;
  for (std::size_t i = order.order_token.chars.size(); i-- > 0;) {
    order.order_token.chars[i] = static_cast<char>('0' + number % 10);
    number /= 10;
  }
  order.buy_sell_indicator = side;
  order.shares.set(shares);
  order.stock = stock;
  order.price.set(price);
  order.time_in_force.set(99'999);
  order.firm.set("AETH");
  order.display = 'Y';
  order.capacity = 'P';
  order.intermarket_sweep_eligibility = 'N';
  order.minimum_quantity.set(0);
  order.cross_type = 'N';
  order.customer_type = ' ';
  return order;
}

// The number make_enter_order() put in the token; 0 if it is not digits.
[[nodiscard]] inline std::uint64_t token_number(const Alpha<14>& token) noexcept {
  std::uint64_t number = 0;
  for (char digit : token.chars) {
    if (digit < '0' || digit > '9') return 0;
    number = number * 10 + static_cast<std::uint64_t>(digit - '0');
  }
  return number;
}

}  // namespace aether::feed::ouch
