// Nasdaq TotalView-ITCH 5.0 messages: every type of the current
// specification (revision of April 2023), as wire structs.
//
// Layouts, lengths and offsets are the spec's section 1 tables (also in
// shared/specs/itch50-moldudp64-ouch.md section 1). Every struct has
// alignment 1 and no padding; the static_asserts below pin sizeof to the
// spec's message length and offsetof to the spec's field offsets. Read a
// message with load_message<T>() (a memcpy, so never an unaligned or
// aliasing access) and its fields through .value() / .text().
//
// Prices: Price(4) is ×10^4 (4 implied decimals), Price(8) ×10^8.
// Timestamps: nanoseconds since midnight (US Eastern), 6 bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "aether/feed/big_endian.hpp"

namespace aether::feed::itch {

// Offset 0..10 of every message (spec "Message Formats", common fields).
struct Header {
  char message_type;
  BigEndian<2> stock_locate;     // 0 for messages about no stock
  BigEndian<2> tracking_number;  // Nasdaq internal
  BigEndian<6> timestamp;        // ns since midnight
};
static_assert(sizeof(Header) == 11);
static_assert(offsetof(Header, stock_locate) == 1 && offsetof(Header, timestamp) == 5);

// 1.1 System Event: O start of messages, S start of system hours, Q start of
// market hours, M end of market hours, E end of system hours, C end of messages.
struct SystemEvent {
  static constexpr char type = 'S';
  Header header;
  char event_code;
};
static_assert(sizeof(SystemEvent) == 12 && offsetof(SystemEvent, event_code) == 11);

// 1.2.1 Stock Directory.
struct StockDirectory {
  static constexpr char type = 'R';
  Header header;
  Alpha<8> stock;
  char market_category;
  char financial_status_indicator;
  BigEndian<4> round_lot_size;
  char round_lots_only;
  char issue_classification;
  Alpha<2> issue_sub_type;
  char authenticity;
  char short_sale_threshold_indicator;
  char ipo_flag;
  char luld_reference_price_tier;
  char etp_flag;
  BigEndian<4> etp_leverage_factor;
  char inverse_indicator;
};
static_assert(sizeof(StockDirectory) == 39);
static_assert(offsetof(StockDirectory, stock) == 11 && offsetof(StockDirectory, round_lot_size) == 21);
static_assert(offsetof(StockDirectory, issue_sub_type) == 27 && offsetof(StockDirectory, etp_flag) == 33);
static_assert(offsetof(StockDirectory, etp_leverage_factor) == 34 && offsetof(StockDirectory, inverse_indicator) == 38);

// 1.2.2 Stock Trading Action: H halted, P paused, Q quotation only, T trading.
struct StockTradingAction {
  static constexpr char type = 'H';
  Header header;
  Alpha<8> stock;
  char trading_state;
  char reserved;
  Alpha<4> reason;
};
static_assert(sizeof(StockTradingAction) == 25 && offsetof(StockTradingAction, reason) == 21);

// 1.2.3 Reg SHO Short Sale Price Test Restricted Indicator.
struct RegShoRestriction {
  static constexpr char type = 'Y';
  Header header;
  Alpha<8> stock;
  char reg_sho_action;  // '0', '1', '2'
};
static_assert(sizeof(RegShoRestriction) == 20 && offsetof(RegShoRestriction, reg_sho_action) == 19);

// 1.2.4 Market Participant Position.
struct MarketParticipantPosition {
  static constexpr char type = 'L';
  Header header;
  Alpha<4> mpid;
  Alpha<8> stock;
  char primary_market_maker;
  char market_maker_mode;
  char market_participant_state;
};
static_assert(sizeof(MarketParticipantPosition) == 26);
static_assert(offsetof(MarketParticipantPosition, stock) == 15 &&
              offsetof(MarketParticipantPosition, market_participant_state) == 25);

// 1.2.5.1 MWCB Decline Level Message (Price(8)).
struct MwcbDeclineLevel {
  static constexpr char type = 'V';
  Header header;
  BigEndian<8> level_1;
  BigEndian<8> level_2;
  BigEndian<8> level_3;
};
static_assert(sizeof(MwcbDeclineLevel) == 35 && offsetof(MwcbDeclineLevel, level_3) == 27);

// 1.2.5.2 MWCB Status Message.
struct MwcbStatus {
  static constexpr char type = 'W';
  Header header;
  char breached_level;  // '1', '2', '3'
};
static_assert(sizeof(MwcbStatus) == 12);

// 1.2.6 IPO Quoting Period Update.
struct IpoQuotingPeriodUpdate {
  static constexpr char type = 'K';
  Header header;
  Alpha<8> stock;
  BigEndian<4> ipo_quotation_release_time;  // seconds since midnight
  char ipo_quotation_release_qualifier;     // 'A' anticipated, 'C' cancelled
  BigEndian<4> ipo_price;                   // Price(4)
};
static_assert(sizeof(IpoQuotingPeriodUpdate) == 28 && offsetof(IpoQuotingPeriodUpdate, ipo_price) == 24);

// 1.2.7 LULD Auction Collar.
struct LuldAuctionCollar {
  static constexpr char type = 'J';
  Header header;
  Alpha<8> stock;
  BigEndian<4> auction_collar_reference_price;  // Price(4)
  BigEndian<4> upper_auction_collar_price;      // Price(4)
  BigEndian<4> lower_auction_collar_price;      // Price(4)
  BigEndian<4> auction_collar_extension;
};
static_assert(sizeof(LuldAuctionCollar) == 35);
static_assert(offsetof(LuldAuctionCollar, upper_auction_collar_price) == 23 &&
              offsetof(LuldAuctionCollar, auction_collar_extension) == 31);

// 1.2.8 Operational Halt (added March 2018).
struct OperationalHalt {
  static constexpr char type = 'h';
  Header header;
  Alpha<8> stock;
  char market_code;             // 'Q' Nasdaq, 'B' BX, 'X' PSX
  char operational_halt_action;  // 'H' halted, 'T' resumed
};
static_assert(sizeof(OperationalHalt) == 21 && offsetof(OperationalHalt, operational_halt_action) == 20);

// 1.3.1 Add Order, no MPID attribution.
struct AddOrder {
  static constexpr char type = 'A';
  Header header;
  BigEndian<8> order_reference;
  char side;  // 'B' buy, 'S' sell
  BigEndian<4> shares;
  Alpha<8> stock;
  BigEndian<4> price;  // Price(4)
};
static_assert(sizeof(AddOrder) == 36);
static_assert(offsetof(AddOrder, order_reference) == 11 && offsetof(AddOrder, side) == 19);
static_assert(offsetof(AddOrder, shares) == 20 && offsetof(AddOrder, stock) == 24 && offsetof(AddOrder, price) == 32);

// 1.3.2 Add Order with MPID attribution: AddOrder's fields, then Attribution.
struct AddOrderWithMpid {
  static constexpr char type = 'F';
  Header header;
  BigEndian<8> order_reference;
  char side;
  BigEndian<4> shares;
  Alpha<8> stock;
  BigEndian<4> price;
  Alpha<4> attribution;
};
static_assert(sizeof(AddOrderWithMpid) == 40);
static_assert(offsetof(AddOrderWithMpid, price) == 32 && offsetof(AddOrderWithMpid, attribution) == 36);

// 1.4.1 Order Executed (at the order's display price).
struct OrderExecuted {
  static constexpr char type = 'E';
  Header header;
  BigEndian<8> order_reference;
  BigEndian<4> executed_shares;
  BigEndian<8> match_number;
};
static_assert(sizeof(OrderExecuted) == 31);
static_assert(offsetof(OrderExecuted, executed_shares) == 19 && offsetof(OrderExecuted, match_number) == 23);

// 1.4.2 Order Executed With Price.
struct OrderExecutedWithPrice {
  static constexpr char type = 'C';
  Header header;
  BigEndian<8> order_reference;
  BigEndian<4> executed_shares;
  BigEndian<8> match_number;
  char printable;  // 'N': counted later in a bulk print
  BigEndian<4> execution_price;
};
static_assert(sizeof(OrderExecutedWithPrice) == 36);
static_assert(offsetof(OrderExecutedWithPrice, printable) == 31 &&
              offsetof(OrderExecutedWithPrice, execution_price) == 32);

// 1.4.3 Order Cancel (partial: cancelled shares are a delta).
struct OrderCancel {
  static constexpr char type = 'X';
  Header header;
  BigEndian<8> order_reference;
  BigEndian<4> cancelled_shares;
};
static_assert(sizeof(OrderCancel) == 23 && offsetof(OrderCancel, cancelled_shares) == 19);

// 1.4.4 Order Delete.
struct OrderDelete {
  static constexpr char type = 'D';
  Header header;
  BigEndian<8> order_reference;
};
static_assert(sizeof(OrderDelete) == 19 && offsetof(OrderDelete, order_reference) == 11);

// 1.4.5 Order Replace: the original is removed, the new reference takes
// its side and stock with the new shares and price.
struct OrderReplace {
  static constexpr char type = 'U';
  Header header;
  BigEndian<8> original_order_reference;
  BigEndian<8> new_order_reference;
  BigEndian<4> shares;
  BigEndian<4> price;
};
static_assert(sizeof(OrderReplace) == 35);
static_assert(offsetof(OrderReplace, new_order_reference) == 19 && offsetof(OrderReplace, shares) == 27 &&
              offsetof(OrderReplace, price) == 31);

// 1.5.1 Trade (non-cross): a non-displayed order executed; no book effect.
struct Trade {
  static constexpr char type = 'P';
  Header header;
  BigEndian<8> order_reference;  // 0 since 2010
  char side;                     // always 'B' since 2014
  BigEndian<4> shares;
  Alpha<8> stock;
  BigEndian<4> price;
  BigEndian<8> match_number;
};
static_assert(sizeof(Trade) == 44 && offsetof(Trade, price) == 32 && offsetof(Trade, match_number) == 36);

// 1.5.2 Cross Trade: bulk print of a cross; no book effect.
struct CrossTrade {
  static constexpr char type = 'Q';
  Header header;
  BigEndian<8> shares;
  Alpha<8> stock;
  BigEndian<4> cross_price;
  BigEndian<8> match_number;
  char cross_type;  // 'O' opening, 'C' closing, 'H' halt/IPO
};
static_assert(sizeof(CrossTrade) == 40);
static_assert(offsetof(CrossTrade, stock) == 19 && offsetof(CrossTrade, cross_price) == 27 &&
              offsetof(CrossTrade, match_number) == 31 && offsetof(CrossTrade, cross_type) == 39);

// 1.5.3 Broken Trade.
struct BrokenTrade {
  static constexpr char type = 'B';
  Header header;
  BigEndian<8> match_number;
};
static_assert(sizeof(BrokenTrade) == 19);

// 1.6 Net Order Imbalance Indicator (NOII).
struct NetOrderImbalance {
  static constexpr char type = 'I';
  Header header;
  BigEndian<8> paired_shares;
  BigEndian<8> imbalance_shares;
  char imbalance_direction;  // 'B', 'S', 'N', 'O', 'P'
  Alpha<8> stock;
  BigEndian<4> far_price;
  BigEndian<4> near_price;
  BigEndian<4> current_reference_price;
  char cross_type;  // 'O', 'C', 'H', 'A'
  char price_variation_indicator;
};
static_assert(sizeof(NetOrderImbalance) == 50);
static_assert(offsetof(NetOrderImbalance, imbalance_direction) == 27 && offsetof(NetOrderImbalance, stock) == 28 &&
              offsetof(NetOrderImbalance, far_price) == 36 && offsetof(NetOrderImbalance, current_reference_price) == 44 &&
              offsetof(NetOrderImbalance, price_variation_indicator) == 49);

// 1.7 Retail Price Improvement Indicator (RPII).
struct RetailPriceImprovement {
  static constexpr char type = 'N';
  Header header;
  Alpha<8> stock;
  char interest_flag;  // 'B', 'S', 'A', 'N'
};
static_assert(sizeof(RetailPriceImprovement) == 20 && offsetof(RetailPriceImprovement, interest_flag) == 19);

// 1.8 Direct Listing with Capital Raise Price Discovery (added April 2023).
struct DlcrPriceDiscovery {
  static constexpr char type = 'O';
  Header header;
  Alpha<8> stock;
  char open_eligibility_status;  // 'N', 'Y'
  BigEndian<4> minimum_allowable_price;
  BigEndian<4> maximum_allowable_price;
  BigEndian<4> near_execution_price;
  BigEndian<8> near_execution_time;
  BigEndian<4> lower_price_range_collar;
  BigEndian<4> upper_price_range_collar;
};
static_assert(sizeof(DlcrPriceDiscovery) == 48);
static_assert(offsetof(DlcrPriceDiscovery, minimum_allowable_price) == 20 &&
              offsetof(DlcrPriceDiscovery, near_execution_time) == 32 &&
              offsetof(DlcrPriceDiscovery, upper_price_range_collar) == 44);

// Calls visit(T{}) once for every message type above, in spec order:
// `for_each_message_type([](auto message) { using T = decltype(message); ... })`.
template <class Visitor>
constexpr void for_each_message_type(Visitor&& visit) {
  visit(SystemEvent{});
  visit(StockDirectory{});
  visit(StockTradingAction{});
  visit(RegShoRestriction{});
  visit(MarketParticipantPosition{});
  visit(MwcbDeclineLevel{});
  visit(MwcbStatus{});
  visit(IpoQuotingPeriodUpdate{});
  visit(LuldAuctionCollar{});
  visit(OperationalHalt{});
  visit(AddOrder{});
  visit(AddOrderWithMpid{});
  visit(OrderExecuted{});
  visit(OrderExecutedWithPrice{});
  visit(OrderCancel{});
  visit(OrderDelete{});
  visit(OrderReplace{});
  visit(Trade{});
  visit(CrossTrade{});
  visit(BrokenTrade{});
  visit(NetOrderImbalance{});
  visit(RetailPriceImprovement{});
  visit(DlcrPriceDiscovery{});
}
inline constexpr std::size_t message_type_count = 23;

// Spec length of each message type, indexed by the type byte; 0 = unknown.
inline constexpr std::array<std::uint8_t, 256> message_lengths = [] {
  std::array<std::uint8_t, 256> lengths{};
  for_each_message_type([&lengths](auto message) {
    lengths[static_cast<unsigned char>(decltype(message)::type)] = static_cast<std::uint8_t>(sizeof(message));
  });
  return lengths;
}();

// Copies a message of type T out of `bytes` (which must hold sizeof(T)).
template <class T>
[[nodiscard]] inline T load_message(const std::byte* bytes) noexcept {
  T message;
  std::memcpy(&message, bytes, sizeof(T));
  return message;
}

// The spec name of a message type ("Add Order"), or "unknown".
[[nodiscard]] const char* message_name(char type) noexcept;

}  // namespace aether::feed::itch
