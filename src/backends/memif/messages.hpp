// memif control messages: decoding untrusted 128-byte datagrams into typed
// values, and encoding ours.
//
// decode_message() is the first line of defence against a hostile peer:
// it accepts exactly kMessageSize bytes, a known type, and bodies whose
// context-free fields make sense (names and strings are cut at the first
// NUL and stripped of unprintable bytes, so they are safe to log). What
// depends on the connection's state (indices, counts, order) is checked by
// handshake.hpp. Every refusal carries the reason that goes, verbatim, into
// the DISCONNECT message (so it stays under 96 bytes). Packed fields are
// copied (unsigned{...}) before they are formatted: fmt binds arguments by
// reference, and a reference to a misaligned packed field is undefined
// behaviour (found by the fuzzer).
//
// Header-only so that the unit tests (which link aether::net only) and the
// fuzz target exercise exactly this code.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "aether/core/result.hpp"
#include "wire.hpp"

namespace aether::backends::memif {

struct AckMessage {};
struct HelloMessage {
  std::string name;
  std::uint16_t min_version = kVersion;
  std::uint16_t max_version = kVersion;
  std::uint16_t max_region = 0;  // indices, not counts (DPDK memif_msg_receive_hello adds 1)
  std::uint16_t max_c2s_ring = 0;
  std::uint16_t max_s2c_ring = 0;
  std::uint8_t max_log2_ring_size = 0;
};
struct InitMessage {
  std::uint16_t version = kVersion;
  std::uint32_t id = 0;
  std::uint8_t mode = kModeEthernet;
  std::array<std::uint8_t, kSecretSize> secret{};  // raw: compared, never printed
  std::string name;
};
struct AddRegionMessage {
  std::uint16_t index = 0;
  std::uint64_t size = 0;
};
struct AddRingMessage {
  RingType type = RingType::client_to_server;
  std::uint16_t index = 0;
  std::uint16_t region = 0;
  std::uint32_t offset = 0;
  std::uint8_t log2_ring_size = 0;
};
struct ConnectMessage {
  std::string interface_name;
};
struct ConnectedMessage {
  std::string interface_name;
};
struct DisconnectMessage {
  std::uint32_t code = 0;
  std::string reason;
};

using Message = std::variant<AckMessage, HelloMessage, InitMessage, AddRegionMessage, AddRingMessage, ConnectMessage,
                             ConnectedMessage, DisconnectMessage>;
using WireMessage = std::array<std::byte, kMessageSize>;

[[nodiscard]] inline const char* message_name(MessageType type) noexcept {
  switch (type) {
    case MessageType::none: return "NONE";
    case MessageType::ack: return "ACK";
    case MessageType::hello: return "HELLO";
    case MessageType::init: return "INIT";
    case MessageType::add_region: return "ADD_REGION";
    case MessageType::add_ring: return "ADD_RING";
    case MessageType::connect: return "CONNECT";
    case MessageType::connected: return "CONNECTED";
    case MessageType::disconnect: return "DISCONNECT";
  }
  return "unknown";
}

[[nodiscard]] inline MessageType type_of(const Message& message) noexcept {
  // The variant's alternatives are in wire order starting at ACK.
  return static_cast<MessageType>(message.index() + 1);
}

// A fixed-size, maybe-unterminated byte field as a printable string: up to
// the first NUL, with bytes outside 0x20..0x7e replaced by '?'.
[[nodiscard]] inline std::string printable_field(const std::uint8_t* bytes, std::size_t size) {
  std::string out;
  for (std::size_t i = 0; i < size && bytes[i] != 0; ++i) {
    const std::uint8_t c = bytes[i];
    out.push_back(c >= 0x20 && c <= 0x7e ? static_cast<char>(c) : '?');
  }
  return out;
}

// Copies `text` into a fixed field, truncated to leave a terminating NUL
// (strlcpy semantics, as DPDK fills these fields).
inline void fill_field(std::uint8_t* field, std::size_t size, std::string_view text) noexcept {
  std::memset(field, 0, size);
  std::memcpy(field, text.data(), std::min(text.size(), size - 1));
}

namespace detail {
template <class Body>
[[nodiscard]] Body read_body(std::span<const std::byte> bytes) noexcept {
  Body body;
  std::memcpy(&body, bytes.data() + kMessageBodyOffset, sizeof(Body));
  return body;
}
template <class Body>
void write_body(WireMessage& out, MessageType type, const Body& body) noexcept {
  out.fill(std::byte{0});
  const auto raw_type = static_cast<std::uint16_t>(type);
  std::memcpy(out.data(), &raw_type, sizeof(raw_type));
  std::memcpy(out.data() + kMessageBodyOffset, &body, sizeof(Body));
}
}  // namespace detail

// Decodes one received datagram. Refuses a wrong size, an unknown type and
// fields that are wrong whatever the state: an unsupported interface mode,
// a ring with a private header (no implementation uses one; Aether does not
// support it), unknown ring flags.
[[nodiscard]] inline Result<Message> decode_message(std::span<const std::byte> bytes) {
  if (bytes.size() != kMessageSize) {
    return invalid_argument(fmt::format("Invalid message size {} (expected {})", bytes.size(), kMessageSize));
  }
  std::uint16_t raw_type = 0;
  std::memcpy(&raw_type, bytes.data(), sizeof(raw_type));
  switch (static_cast<MessageType>(raw_type)) {
    case MessageType::ack:
      return Message{AckMessage{}};
    case MessageType::hello: {
      const auto body = detail::read_body<HelloBody>(bytes);
      HelloMessage hello;
      hello.name = printable_field(body.name, kNameSize);
      hello.min_version = body.min_version;
      hello.max_version = body.max_version;
      hello.max_region = body.max_region;
      hello.max_c2s_ring = body.max_c2s_ring;
      hello.max_s2c_ring = body.max_s2c_ring;
      hello.max_log2_ring_size = body.max_log2_ring_size;
      return Message{std::move(hello)};
    }
    case MessageType::init: {
      const auto body = detail::read_body<InitBody>(bytes);
      if (body.mode != kModeEthernet) {
        return invalid_argument(fmt::format("Only ethernet mode supported (INIT mode {})", unsigned{body.mode}));
      }
      InitMessage init;
      init.version = body.version;
      init.id = body.id;
      init.mode = body.mode;
      std::memcpy(init.secret.data(), body.secret, kSecretSize);
      init.name = printable_field(body.name, kNameSize);
      return Message{std::move(init)};
    }
    case MessageType::add_region: {
      const auto body = detail::read_body<AddRegionBody>(bytes);
      return Message{AddRegionMessage{body.index, body.size}};
    }
    case MessageType::add_ring: {
      const auto body = detail::read_body<AddRingBody>(bytes);
      if ((body.flags & ~kAddRingFlagClientToServer) != 0) {
        return invalid_argument(fmt::format("Unknown ADD_RING flags {:#x}", unsigned{body.flags}));
      }
      if (body.private_hdr_size != 0) {
        return invalid_argument(fmt::format("Ring private header ({} bytes) not supported", unsigned{body.private_hdr_size}));
      }
      AddRingMessage ring;
      ring.type = (body.flags & kAddRingFlagClientToServer) != 0 ? RingType::client_to_server
                                                                  : RingType::server_to_client;
      ring.index = body.index;
      ring.region = body.region;
      ring.offset = body.offset;
      ring.log2_ring_size = body.log2_ring_size;
      return Message{ring};
    }
    case MessageType::connect:
      return Message{ConnectMessage{printable_field(detail::read_body<ConnectBody>(bytes).if_name, kNameSize)}};
    case MessageType::connected:
      return Message{ConnectedMessage{printable_field(detail::read_body<ConnectBody>(bytes).if_name, kNameSize)}};
    case MessageType::disconnect: {
      const auto body = detail::read_body<DisconnectBody>(bytes);
      return Message{DisconnectMessage{body.code, printable_field(body.string, kDisconnectStringSize)}};
    }
    case MessageType::none:
      break;
  }
  return invalid_argument(fmt::format("Unknown message type {}", raw_type));
}

[[nodiscard]] inline WireMessage encode_message(const Message& message) noexcept {
  WireMessage out{};
  std::visit(
      [&out](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, AckMessage>) {
          const auto raw_type = static_cast<std::uint16_t>(MessageType::ack);
          std::memcpy(out.data(), &raw_type, sizeof(raw_type));
        } else if constexpr (std::is_same_v<T, HelloMessage>) {
          HelloBody body{};
          fill_field(body.name, kNameSize, m.name);
          body.min_version = m.min_version;
          body.max_version = m.max_version;
          body.max_region = m.max_region;
          body.max_c2s_ring = m.max_c2s_ring;
          body.max_s2c_ring = m.max_s2c_ring;
          body.max_log2_ring_size = m.max_log2_ring_size;
          detail::write_body(out, MessageType::hello, body);
        } else if constexpr (std::is_same_v<T, InitMessage>) {
          InitBody body{};
          body.version = m.version;
          body.id = m.id;
          body.mode = m.mode;
          std::memcpy(body.secret, m.secret.data(), kSecretSize);
          fill_field(body.name, kNameSize, m.name);
          detail::write_body(out, MessageType::init, body);
        } else if constexpr (std::is_same_v<T, AddRegionMessage>) {
          AddRegionBody body{};
          body.index = m.index;
          body.size = m.size;
          detail::write_body(out, MessageType::add_region, body);
        } else if constexpr (std::is_same_v<T, AddRingMessage>) {
          AddRingBody body{};
          body.flags = m.type == RingType::client_to_server ? kAddRingFlagClientToServer : 0;
          body.index = m.index;
          body.region = m.region;
          body.offset = m.offset;
          body.log2_ring_size = m.log2_ring_size;
          body.private_hdr_size = 0;
          detail::write_body(out, MessageType::add_ring, body);
        } else if constexpr (std::is_same_v<T, ConnectMessage> || std::is_same_v<T, ConnectedMessage>) {
          ConnectBody body{};
          fill_field(body.if_name, kNameSize, m.interface_name);
          detail::write_body(out, std::is_same_v<T, ConnectMessage> ? MessageType::connect : MessageType::connected,
                             body);
        } else {
          DisconnectBody body{};
          body.code = m.code;
          fill_field(body.string, kDisconnectStringSize, m.reason);
          detail::write_body(out, MessageType::disconnect, body);
        }
      },
      message);
  return out;
}

// The secret as the 24-byte field carries it (zero-padded; a 24-character
// secret fills it without a NUL, as DPDK's strncmp over 24 bytes allows).
[[nodiscard]] inline std::array<std::uint8_t, kSecretSize> secret_field(std::string_view secret) noexcept {
  std::array<std::uint8_t, kSecretSize> field{};
  std::memcpy(field.data(), secret.data(), std::min(secret.size(), kSecretSize));
  return field;
}

}  // namespace aether::backends::memif
