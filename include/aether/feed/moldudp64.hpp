// MoldUDP64 framing (Nasdaq MoldUDP64 Protocol Specification v1.00).
//
// Downstream packet: a 20-byte header (Session 10 A, Sequence Number 8,
// Message Count 2) then Message Count blocks of (Message Length 2, bytes).
// Count 0 is a heartbeat and 0xFFFF the end of session; both carry the next
// expected sequence number. A retransmission request is the same 20-byte
// header sent to the re-request server (count = messages wanted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "aether/feed/big_endian.hpp"
#include "aether/feed/drop_counters.hpp"

namespace aether::feed::mold {

struct Header {
  Alpha<10> session;
  BigEndian<8> sequence_number;  // of the first block; block i is sequence_number + i
  BigEndian<2> message_count;
};
static_assert(sizeof(Header) == 20);
static_assert(offsetof(Header, sequence_number) == 10 && offsetof(Header, message_count) == 18);

inline constexpr std::size_t header_size = sizeof(Header);
inline constexpr std::size_t block_length_size = 2;  // Message Length field, excludes itself
inline constexpr std::uint16_t heartbeat_count = 0;
inline constexpr std::uint16_t end_of_session_count = 0xFFFF;
inline constexpr std::uint16_t max_data_count = 0xFFFE;
// Nassau's payload (shared specs section 2); fits a 1500-byte MTU with room.
inline constexpr std::size_t default_payload_size = 1400;

enum class PacketKind : std::uint8_t { data, heartbeat, end_of_session, invalid };

struct PacketInfo {
  PacketKind kind = PacketKind::invalid;
  Alpha<10> session{};
  std::uint64_t sequence_number = 0;  // first block's (data) or next expected (heartbeat, end)
  std::uint16_t message_count = 0;    // as announced (0 for heartbeat and end of session)
  std::uint16_t messages_delivered = 0;  // blocks handed to on_message
};

// Parses one downstream packet and calls on_message(sequence, bytes) for
// each complete block, in order. Never reads outside `packet`; every defect
// is counted in `drops` (a cut block stops the packet: its length cannot be
// trusted to find the next one).
template <class OnMessage>
PacketInfo parse_packet(std::span<const std::byte> packet, DropCounters& drops, OnMessage&& on_message) noexcept {
  PacketInfo info;
  if (packet.size() < header_size) {
    drops.add(DropReason::short_packet);
    return info;
  }
  Header header;
  std::memcpy(&header, packet.data(), header_size);
  info.session = header.session;
  info.sequence_number = header.sequence_number.value();
  const auto count = static_cast<std::uint16_t>(header.message_count.value());
  std::size_t offset = header_size;
  if (count == heartbeat_count || count == end_of_session_count) {
    info.kind = count == heartbeat_count ? PacketKind::heartbeat : PacketKind::end_of_session;
    if (packet.size() > header_size) {
      drops.add(count == heartbeat_count ? DropReason::trailing_bytes : DropReason::blocks_in_end_of_session);
    }
    return info;
  }
  info.kind = PacketKind::data;
  info.message_count = count;
  for (std::uint16_t block = 0; block < count; ++block) {
    if (packet.size() - offset < block_length_size) {
      drops.add(DropReason::truncated_block);
      return info;
    }
    const std::size_t length =
        (static_cast<std::size_t>(packet[offset]) << 8) | static_cast<std::size_t>(packet[offset + 1]);
    offset += block_length_size;
    if (packet.size() - offset < length) {
      drops.add(DropReason::truncated_block);
      return info;
    }
    on_message(info.sequence_number + block, packet.subspan(offset, length));
    ++info.messages_delivered;
    offset += length;
  }
  if (offset != packet.size()) drops.add(DropReason::trailing_bytes);
  return info;
}

// Fills a caller's buffer with one downstream packet, block by block.
// No allocation: the buffer is the caller's (header_size + payload bytes).
class PacketBuilder {
 public:
  explicit PacketBuilder(std::span<std::byte> buffer) noexcept : buffer_(buffer) {}

  // Starts a data packet whose first block will be `sequence_number`.
  void begin(std::string_view session, std::uint64_t sequence_number) noexcept {
    header_.session.set(session);
    header_.sequence_number.set(sequence_number);
    count_ = 0;
    size_ = header_size;
  }
  // Appends one message; false (nothing written) if it does not fit or the
  // packet already holds max_data_count messages.
  [[nodiscard]] bool try_add(std::span<const std::byte> message) noexcept {
    if (count_ == max_data_count || message.size() > 0xFFFF ||
        buffer_.size() - size_ < block_length_size + message.size()) {
      return false;
    }
    buffer_[size_] = static_cast<std::byte>(message.size() >> 8);
    buffer_[size_ + 1] = static_cast<std::byte>(message.size() & 0xFF);
    if (!message.empty()) std::memcpy(buffer_.data() + size_ + block_length_size, message.data(), message.size());
    size_ += block_length_size + message.size();
    ++count_;
    return true;
  }
  [[nodiscard]] std::uint16_t message_count() const noexcept { return count_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  // Writes the header and returns the finished packet.
  [[nodiscard]] std::span<const std::byte> finish() noexcept {
    header_.message_count.set(count_);
    std::memcpy(buffer_.data(), &header_, header_size);
    return buffer_.first(size_);
  }
  // A header-only packet: heartbeat (count 0), end of session (0xFFFF) or a
  // retransmission request (count = messages wanted), written at the start
  // of the buffer.
  [[nodiscard]] std::span<const std::byte> header_only(std::string_view session, std::uint64_t sequence_number,
                                                       std::uint16_t count) noexcept {
    Header header;
    header.session.set(session);
    header.sequence_number.set(sequence_number);
    header.message_count.set(count);
    std::memcpy(buffer_.data(), &header, header_size);
    return buffer_.first(header_size);
  }

 private:
  std::span<std::byte> buffer_;
  Header header_{};
  std::uint16_t count_ = 0;
  std::size_t size_ = header_size;
};

}  // namespace aether::feed::mold
