// Fuzz target: a MoldUDP64 packet of ITCH 5.0 messages, as `aether feed`
// decodes every received datagram. Invariants: never reads outside the
// packet (ASan), every announced block is either delivered or its packet
// counted as cut, and every delivered message is decoded or counted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "aether/feed/itch_decoder.hpp"
#include "aether/feed/moldudp64.hpp"

namespace {

struct CountingHandler {
  std::uint64_t decoded = 0;
  template <class T>
  void on(const T&) noexcept {
    ++decoded;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An exact-size heap copy, so ASan catches a read one byte past the end.
  std::vector<std::byte> packet(reinterpret_cast<const std::byte*>(data), reinterpret_cast<const std::byte*>(data) + size);
  aether::feed::DropCounters drops;
  CountingHandler handler;
  std::uint64_t delivered = 0;
  std::uint64_t skipped = 0;
  const auto info = aether::feed::mold::parse_packet(
      packet, drops, [&](std::uint64_t, std::span<const std::byte> message) {
        ++delivered;
        if (!aether::feed::decode_message(message, handler, drops)) ++skipped;
      });
  if (info.messages_delivered != delivered) std::abort();
  if (handler.decoded + skipped != delivered) std::abort();
  if (info.kind == aether::feed::mold::PacketKind::data && delivered < info.message_count &&
      drops[aether::feed::DropReason::truncated_block] != 1) {
    std::abort();
  }
  return 0;
}
