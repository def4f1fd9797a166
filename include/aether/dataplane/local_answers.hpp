// Answering for a local IPv4 address: what a host owes its neighbours so
// that they can reach it at all. ARP requests for the address (RFC 826) and
// ICMP echo requests to it (RFC 792, as RFC 1122 section 3.2.2.6 requires
// of every host) are turned into their replies in place.
//
// Used by the echo responder (`aether echo --ip`) and by the pinger, which
// must answer the peer's ARP requests while it waits for its replies.
#pragma once

#include <cstdint>

#include "aether/mem/packet.hpp"
#include "aether/net/frame.hpp"

namespace aether::dataplane {

// The address a port answers for: its IPv4 address and its MAC.
struct LocalAddress {
  net::MacAddress mac{};
  std::uint32_t ip_be = 0;  // network byte order
};

// What an answer_* function did with a frame.
enum class LocalAnswer : std::uint8_t {
  reply,       // the frame is now the reply, ready to send back
  not_for_us,  // nothing to answer: another address, an ARP reply, an ICMP type other than echo request
  malformed,   // an ARP frame that is not Ethernet/IPv4 ARP, or ICMP to us too short or failing its checksum
};

// `packet` holds an ARP frame (EtherType 0x0806). A request for local.ip_be
// becomes the reply, padded to 60 bytes when the buffer has room (a kernel
// sends 42-byte requests on a veth; NICs without auto-padding need 60).
// Other frames are left unchanged. No allocation, no syscall.
[[nodiscard]] LocalAnswer answer_arp(mem::Packet& packet, const LocalAddress& local) noexcept;

// `frame` is an IPv4 frame net::parse_ipv4_frame() took whose protocol is
// ICMP. An echo request to local.ip_be becomes the echo reply; other frames
// are left unchanged.
[[nodiscard]] LocalAnswer answer_icmp(const net::Ipv4FrameView& frame, const LocalAddress& local) noexcept;

}  // namespace aether::dataplane
