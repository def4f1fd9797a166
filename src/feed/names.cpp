// Human names of ITCH message types and feed drop reasons, for reports.
#include "aether/feed/drop_counters.hpp"
#include "aether/feed/itch_messages.hpp"

namespace aether::feed {

std::string_view to_string(DropReason reason) noexcept {
  switch (reason) {
    case DropReason::short_packet: return "short packet";
    case DropReason::truncated_block: return "truncated block";
    case DropReason::trailing_bytes: return "trailing bytes";
    case DropReason::blocks_in_end_of_session: return "blocks in end of session";
    case DropReason::empty_message: return "empty message";
    case DropReason::unknown_type: return "unknown type";
    case DropReason::short_message: return "short message";
    case DropReason::long_message: return "long message";
  }
  return "unknown reason";
}

namespace itch {

const char* message_name(char type) noexcept {
  switch (type) {
    case 'S': return "System Event";
    case 'R': return "Stock Directory";
    case 'H': return "Stock Trading Action";
    case 'Y': return "Reg SHO Restriction";
    case 'L': return "Market Participant Position";
    case 'V': return "MWCB Decline Level";
    case 'W': return "MWCB Status";
    case 'K': return "IPO Quoting Period Update";
    case 'J': return "LULD Auction Collar";
    case 'h': return "Operational Halt";
    case 'A': return "Add Order";
    case 'F': return "Add Order with MPID";
    case 'E': return "Order Executed";
    case 'C': return "Order Executed With Price";
    case 'X': return "Order Cancel";
    case 'D': return "Order Delete";
    case 'U': return "Order Replace";
    case 'P': return "Trade";
    case 'Q': return "Cross Trade";
    case 'B': return "Broken Trade";
    case 'I': return "Net Order Imbalance Indicator";
    case 'N': return "Retail Price Improvement Indicator";
    case 'O': return "DLCR Price Discovery";
    default: return "unknown";
  }
}

}  // namespace itch
}  // namespace aether::feed
