// ARP and ICMP echo answers for a local address (see local_answers.hpp).
#include "aether/dataplane/local_answers.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "aether/net/arp.hpp"
#include "aether/net/icmp.hpp"

namespace aether::dataplane {

LocalAnswer answer_arp(mem::Packet& packet, const LocalAddress& local) noexcept {
  const auto frame = net::parse_arp_frame(std::span(packet.data(), packet.length()));
  if (!frame) return LocalAnswer::malformed;
  // Only a request for our own address gets a reply (RFC 826 "Packet
  // Reception"); gratuitous ARP and replies are not ours to answer.
  if (ntohs(frame->arp->operation_be) != net::arp_operation_request || frame->arp->target_ip_be != local.ip_be) {
    return LocalAnswer::not_for_us;
  }
  net::turn_into_arp_reply(*frame, local.mac);
  const std::uint16_t length = packet.length();
  if (length < net::min_ethernet_frame && packet.set_length(net::min_ethernet_frame)) {
    std::memset(packet.data() + length, 0, net::min_ethernet_frame - length);
  }
  return LocalAnswer::reply;
}

LocalAnswer answer_icmp(const net::Ipv4FrameView& frame, const LocalAddress& local) noexcept {
  if (frame.ip->destination_be != local.ip_be) return LocalAnswer::not_for_us;
  net::IcmpError error{};
  auto echo = net::parse_icmp_echo(frame, error);
  if (!echo) return error == net::IcmpError::not_echo ? LocalAnswer::not_for_us : LocalAnswer::malformed;
  if (echo->icmp->type != net::icmp_type_echo_request) return LocalAnswer::not_for_us;
  net::turn_into_echo_reply(*echo);
  return LocalAnswer::reply;
}

}  // namespace aether::dataplane
