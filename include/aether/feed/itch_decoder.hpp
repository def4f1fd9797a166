// ITCH 5.0 decoding: one message's bytes -> a typed call on a handler.
//
// decode_message() checks the type byte and the length against the
// specification's table (itch::message_lengths) before it reads a field, so
// any bytes are safe to pass; what does not check out is counted in
// DropCounters and skipped. The handler is a template parameter (chosen at
// compile time, STYLE.md convention 9): it provides `on(const itch::T&)` for
// the types it cares about and a catch-all `on(const auto&)` for the rest.
#pragma once

#include <cstddef>
#include <span>

#include "aether/feed/drop_counters.hpp"
#include "aether/feed/itch_messages.hpp"

namespace aether::feed {

// Decodes one ITCH message (exactly the bytes of one MoldUDP64 block) and
// calls handler.on(message). Returns false, counting why, when the bytes are
// not a well-formed ITCH 5.0 message.
template <class Handler>
bool decode_message(std::span<const std::byte> bytes, Handler& handler, DropCounters& drops) noexcept {
  if (bytes.empty()) {
    drops.add(DropReason::empty_message);
    return false;
  }
  const auto type = static_cast<unsigned char>(bytes[0]);
  const std::size_t expected = itch::message_lengths[type];
  if (expected == 0) {
    drops.add(DropReason::unknown_type);
    return false;
  }
  if (bytes.size() != expected) {
    drops.add(bytes.size() < expected ? DropReason::short_message : DropReason::long_message);
    return false;
  }
  const std::byte* data = bytes.data();
  using namespace itch;
  switch (type) {
    case 'S': handler.on(load_message<SystemEvent>(data)); break;
    case 'R': handler.on(load_message<StockDirectory>(data)); break;
    case 'H': handler.on(load_message<StockTradingAction>(data)); break;
    case 'Y': handler.on(load_message<RegShoRestriction>(data)); break;
    case 'L': handler.on(load_message<MarketParticipantPosition>(data)); break;
    case 'V': handler.on(load_message<MwcbDeclineLevel>(data)); break;
    case 'W': handler.on(load_message<MwcbStatus>(data)); break;
    case 'K': handler.on(load_message<IpoQuotingPeriodUpdate>(data)); break;
    case 'J': handler.on(load_message<LuldAuctionCollar>(data)); break;
    case 'h': handler.on(load_message<OperationalHalt>(data)); break;
    case 'A': handler.on(load_message<AddOrder>(data)); break;
    case 'F': handler.on(load_message<AddOrderWithMpid>(data)); break;
    case 'E': handler.on(load_message<OrderExecuted>(data)); break;
    case 'C': handler.on(load_message<OrderExecutedWithPrice>(data)); break;
    case 'X': handler.on(load_message<OrderCancel>(data)); break;
    case 'D': handler.on(load_message<OrderDelete>(data)); break;
    case 'U': handler.on(load_message<OrderReplace>(data)); break;
    case 'P': handler.on(load_message<Trade>(data)); break;
    case 'Q': handler.on(load_message<CrossTrade>(data)); break;
    case 'B': handler.on(load_message<BrokenTrade>(data)); break;
    case 'I': handler.on(load_message<NetOrderImbalance>(data)); break;
    case 'N': handler.on(load_message<RetailPriceImprovement>(data)); break;
    case 'O': handler.on(load_message<DlcrPriceDiscovery>(data)); break;
    default: break;  // unreachable: message_lengths has exactly these types
  }
  return true;
}

}  // namespace aether::feed
