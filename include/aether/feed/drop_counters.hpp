// Why a feed packet or message was skipped, counted per reason.
//
// The feed's data path never throws or asserts on wire bytes: whatever is
// wrong with a packet or message is counted here and the rest of the stream
// goes on (Aether's rule: bad input is a counted drop, never a crash).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace aether::feed {

enum class DropReason : std::uint8_t {
  short_packet,               // MoldUDP64 packet shorter than its 20-byte header
  truncated_block,            // a message block runs past the end of the packet (rest of the packet skipped)
  trailing_bytes,             // bytes after the announced message blocks
  blocks_in_end_of_session,   // an end-of-session packet (count 0xFFFF) that carries bytes
  empty_message,              // a message block of length 0
  unknown_type,               // ITCH type byte not in the 5.0 specification
  short_message,              // shorter than its type's length (ITCH 5.0 lengths never change)
  long_message,               // longer than its type's length
};
inline constexpr std::size_t drop_reason_count = 8;

[[nodiscard]] std::string_view to_string(DropReason reason) noexcept;

struct DropCounters {
  std::array<std::uint64_t, drop_reason_count> by_reason{};

  void add(DropReason reason) noexcept { ++by_reason[static_cast<std::size_t>(reason)]; }
  [[nodiscard]] std::uint64_t operator[](DropReason reason) const noexcept {
    return by_reason[static_cast<std::size_t>(reason)];
  }
  [[nodiscard]] std::uint64_t total() const noexcept {
    std::uint64_t sum = 0;
    for (std::uint64_t count : by_reason) sum += count;
    return sum;
  }
};

}  // namespace aether::feed
