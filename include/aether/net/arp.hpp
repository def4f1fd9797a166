// ARP for IPv4 over Ethernet (RFC 826): the packet layout, building a
// request and turning a request into its reply in place.
//
// Everything here reads untrusted bytes: parse_arp_frame() checks the length
// and every fixed field before it trusts the packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "aether/net/frame.hpp"

namespace aether::net {

inline constexpr std::uint16_t arp_hardware_ethernet = 1;  // RFC 826 ar$hrd; IANA "Hardware Types"
inline constexpr std::uint16_t arp_operation_request = 1;  // ar$op
inline constexpr std::uint16_t arp_operation_reply = 2;

// RFC 826 "Packet format" with hardware = Ethernet (6-byte addresses) and
// protocol = IPv4 (4-byte addresses). The IPv4 fields are unaligned on the
// wire; packed access copes.
struct [[gnu::packed]] ArpPacket {
  std::uint16_t hardware_type_be;   // ar$hrd: 1
  std::uint16_t protocol_type_be;   // ar$pro: 0x0800
  std::uint8_t hardware_length;     // ar$hln: 6
  std::uint8_t protocol_length;     // ar$pln: 4
  std::uint16_t operation_be;       // ar$op: request or reply
  MacAddress sender_mac;            // ar$sha
  std::uint32_t sender_ip_be;       // ar$spa
  MacAddress target_mac;            // ar$tha
  std::uint32_t target_ip_be;       // ar$tpa
};
static_assert(sizeof(ArpPacket) == 28);
static_assert(offsetof(ArpPacket, sender_mac) == 8);
static_assert(offsetof(ArpPacket, target_ip_be) == 24);

inline constexpr std::size_t arp_frame_size = sizeof(EthernetHeader) + sizeof(ArpPacket);  // 42, before padding
inline constexpr MacAddress broadcast_mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// A parsed ARP frame: pointers into the caller's bytes.
struct ArpFrameView {
  EthernetHeader* ethernet = nullptr;
  ArpPacket* arp = nullptr;
};

// The ARP packet in `frame` if it is Ethernet/IPv4 ARP with the lengths RFC
// 826 gives for them (a request or a reply; other operations refused), else
// nullopt. Never reads outside `frame`.
[[nodiscard]] std::optional<ArpFrameView> parse_arp_frame(std::span<std::byte> frame) noexcept;

// Writes a broadcast "who has target_ip_be? tell sender_ip_be" request into
// `frame`, padded to min_ethernet_frame; returns its length, or 0 if
// `frame` is shorter than min_ethernet_frame.
[[nodiscard]] std::size_t write_arp_request(std::span<std::byte> frame, const MacAddress& sender_mac,
                                            std::uint32_t sender_ip_be, std::uint32_t target_ip_be) noexcept;

// Turns a parsed request into the reply `local_mac` gives for the address
// asked about, in place (RFC 826 "Packet Reception": swap the sender and
// target fields, fill in the local hardware address, set the opcode to
// reply, send to the requester). The caller checked that the request asks
// for one of its addresses.
void turn_into_arp_reply(ArpFrameView frame, const MacAddress& local_mac) noexcept;

}  // namespace aether::net
