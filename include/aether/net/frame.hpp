// Ethernet / IPv4 / UDP frames: wire layouts, parsing and building.
//
// Everything here reads untrusted bytes: parse_udp_frame() checks every
// length and field before it trusts it and says why a frame is refused.
// All multi-byte fields are in network byte order on the wire; the structs
// hold them as raw big-endian values and the accessors convert.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace aether::net {

using MacAddress = std::array<std::uint8_t, 6>;

// IEEE 802.3 Ethernet II header (no VLAN tag).
struct [[gnu::packed]] EthernetHeader {
  MacAddress destination;
  MacAddress source;
  std::uint16_t ether_type_be;
};
static_assert(sizeof(EthernetHeader) == 14);

inline constexpr std::uint16_t ether_type_ipv4 = 0x0800;  // IEEE 802 numbers
inline constexpr std::uint16_t ether_type_arp = 0x0806;
inline constexpr std::uint16_t ether_type_vlan = 0x8100;

// RFC 791 section 3.1, without options (IHL 5).
struct [[gnu::packed]] Ipv4Header {
  std::uint8_t version_ihl;
  std::uint8_t tos;
  std::uint16_t total_length_be;
  std::uint16_t identification_be;
  std::uint16_t flags_fragment_be;
  std::uint8_t ttl;
  std::uint8_t protocol;
  std::uint16_t checksum_be;
  std::uint32_t source_be;
  std::uint32_t destination_be;
};
static_assert(sizeof(Ipv4Header) == 20);
static_assert(offsetof(Ipv4Header, source_be) == 12);

inline constexpr std::uint8_t ip_protocol_icmp = 1;  // IANA protocol numbers
inline constexpr std::uint8_t ip_protocol_udp = 17;

// RFC 768.
struct [[gnu::packed]] UdpHeader {
  std::uint16_t source_port_be;
  std::uint16_t destination_port_be;
  std::uint16_t length_be;
  std::uint16_t checksum_be;
};
static_assert(sizeof(UdpHeader) == 8);

inline constexpr std::size_t udp_frame_header_size = sizeof(EthernetHeader) + sizeof(Ipv4Header) + sizeof(UdpHeader);
static_assert(udp_frame_header_size == 42);
inline constexpr std::size_t min_ethernet_frame = 60;  // 64 on the wire less the 4-byte FCS

// Why a frame was refused; each maps to a drop counter.
enum class FrameError : std::uint8_t {
  none = 0,
  too_short,          // shorter than the headers it claims
  not_ipv4,           // EtherType is not IPv4 (ARP, IPv6, VLAN, ...)
  bad_ip_header,      // version != 4, IHL < 5, total length inconsistent
  ip_fragment,        // a fragment: we do not reassemble
  not_udp,            // IP protocol is not UDP
  bad_udp_length,     // UDP length inconsistent with the IP payload
  bad_ip_checksum,
};
std::string_view to_string(FrameError error) noexcept;

// A parsed Ethernet II / IPv4 frame of any protocol: pointers into the
// caller's bytes. `payload` is the IP payload (options skipped, Ethernet
// padding excluded).
struct Ipv4FrameView {
  EthernetHeader* ethernet = nullptr;
  Ipv4Header* ip = nullptr;
  std::span<std::byte> payload;
};

// Parses the Ethernet and IPv4 headers and checks them (version, lengths,
// header checksum, not a fragment); the protocol is the caller's to check.
// Never reads outside `frame`. On refusal, `error` says why.
[[nodiscard]] std::optional<Ipv4FrameView> parse_ipv4_frame(std::span<std::byte> frame, FrameError& error) noexcept;

// A parsed IPv4/UDP frame: pointers into the caller's bytes.
struct UdpFrameView {
  EthernetHeader* ethernet = nullptr;
  Ipv4Header* ip = nullptr;
  UdpHeader* udp = nullptr;
  std::span<std::byte> payload;
};

// Parses an Ethernet II / IPv4 / UDP frame (IP options allowed and skipped).
// Never reads outside `frame`. On refusal, `error` says why.
[[nodiscard]] std::optional<UdpFrameView> parse_udp_frame(std::span<std::byte> frame, FrameError& error) noexcept;
// The same for a frame parse_ipv4_frame() already took: checks the protocol
// and the UDP header within the IP payload.
[[nodiscard]] std::optional<UdpFrameView> parse_udp_payload(const Ipv4FrameView& frame, FrameError& error) noexcept;

// RFC 1071 Internet checksum over `bytes`, returned in network byte order
// (ready to store in a *_be field).
[[nodiscard]] std::uint16_t internet_checksum_be(std::span<const std::byte> bytes) noexcept;

// Writes an option-less IPv4 header (RFC 791 section 3.1: TTL 64, don't
// fragment, checksum filled in) for `payload_size` bytes of `protocol`.
void write_ipv4_header(Ipv4Header& ip, std::uint32_t source_be, std::uint32_t destination_be, std::uint8_t protocol,
                       std::size_t payload_size) noexcept;

struct UdpEndpoint {
  MacAddress mac{};
  std::uint32_t ip_be = 0;      // network byte order
  std::uint16_t port_be = 0;    // network byte order
};

// Writes headers for a UDP datagram carrying `payload_size` bytes into
// `frame` (which must hold udp_frame_header_size + payload_size bytes) and
// returns the frame length, padded to min_ethernet_frame. UDP checksum 0
// (allowed for IPv4, RFC 768). Returns 0 if `frame` is too small.
[[nodiscard]] std::size_t write_udp_headers(std::span<std::byte> frame, const UdpEndpoint& source,
                                            const UdpEndpoint& destination, std::size_t payload_size) noexcept;

// The IPv4 part of turning any request into its reply in place: swaps the
// MAC and IP addresses, resets TTL, recomputes the IP header checksum.
void swap_ipv4_for_reply(EthernetHeader& ethernet, Ipv4Header& ip) noexcept;

// Turns a parsed request into its reply in place: swaps MAC, IP and port,
// resets TTL, recomputes the IP checksum.
void swap_for_echo(UdpFrameView& frame) noexcept;

// "02:00:00:00:00:01" <-> MacAddress; "10.9.0.1" <-> network-order IPv4.
std::optional<MacAddress> parse_mac(std::string_view text) noexcept;
std::string format_mac(const MacAddress& mac);
std::optional<std::uint32_t> parse_ipv4_be(std::string_view text) noexcept;
std::string format_ipv4_be(std::uint32_t ip_be);

}  // namespace aether::net
