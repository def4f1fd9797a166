// ICMP echo over IPv4 (RFC 792, "Echo or Echo Reply Message"): the header,
// building a request and turning a request into its reply in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "aether/net/frame.hpp"

namespace aether::net {

inline constexpr std::uint8_t icmp_type_echo_reply = 0;    // RFC 792
inline constexpr std::uint8_t icmp_type_echo_request = 8;

// RFC 792: type, code, checksum, then for echo an identifier and a
// sequence number; the data follows.
struct [[gnu::packed]] IcmpEchoHeader {
  std::uint8_t type;
  std::uint8_t code;
  std::uint16_t checksum_be;    // over the whole ICMP message (header and data)
  std::uint16_t identifier_be;
  std::uint16_t sequence_be;
};
static_assert(sizeof(IcmpEchoHeader) == 8);

inline constexpr std::size_t icmp_echo_frame_header_size =
    sizeof(EthernetHeader) + sizeof(Ipv4Header) + sizeof(IcmpEchoHeader);
static_assert(icmp_echo_frame_header_size == 42);

// Why an IPv4/ICMP frame was not taken as an echo message.
enum class IcmpError : std::uint8_t {
  none = 0,
  too_short,       // shorter than the echo header
  bad_checksum,    // the ICMP checksum does not verify
  not_echo,        // another type (unreachable, redirect, ...) or a non-zero code
};

// A parsed ICMP echo request or reply: pointers into the caller's bytes.
struct IcmpEchoView {
  EthernetHeader* ethernet = nullptr;
  Ipv4Header* ip = nullptr;
  IcmpEchoHeader* icmp = nullptr;
  std::span<std::byte> message;  // header and data: what the checksum covers
};

// Takes an IPv4 frame whose protocol is ICMP (the caller checked) and
// returns the echo message in it, checksum verified; on refusal `error`
// says why. Never reads outside the IP payload.
[[nodiscard]] std::optional<IcmpEchoView> parse_icmp_echo(const Ipv4FrameView& frame, IcmpError& error) noexcept;

// Writes Ethernet, IPv4 and ICMP echo request headers for `data_size` bytes
// of data, which the caller has already written at
// frame[icmp_echo_frame_header_size..]; fills in both checksums. Returns
// the frame length, padded to min_ethernet_frame, or 0 if `frame` is too
// small for it.
[[nodiscard]] std::size_t write_icmp_echo_request(std::span<std::byte> frame, const MacAddress& source_mac,
                                                  std::uint32_t source_ip_be, const MacAddress& destination_mac,
                                                  std::uint32_t destination_ip_be, std::uint16_t identifier,
                                                  std::uint16_t sequence, std::size_t data_size) noexcept;

// Turns a parsed echo request into its reply in place: MAC and IP swapped,
// TTL reset, type 0, both checksums updated. Identifier, sequence and data
// are echoed unchanged, as RFC 792 requires.
void turn_into_echo_reply(IcmpEchoView& frame) noexcept;

}  // namespace aether::net
