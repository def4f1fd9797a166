// ARP (RFC 826) for IPv4 over Ethernet.
#include "aether/net/arp.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace aether::net {

std::optional<ArpFrameView> parse_arp_frame(std::span<std::byte> frame) noexcept {
  if (frame.size() < arp_frame_size) return std::nullopt;
  ArpFrameView view;
  view.ethernet = reinterpret_cast<EthernetHeader*>(frame.data());
  if (ntohs(view.ethernet->ether_type_be) != ether_type_arp) return std::nullopt;
  view.arp = reinterpret_cast<ArpPacket*>(frame.data() + sizeof(EthernetHeader));
  const ArpPacket& arp = *view.arp;
  const std::uint16_t operation = ntohs(arp.operation_be);
  if (ntohs(arp.hardware_type_be) != arp_hardware_ethernet || ntohs(arp.protocol_type_be) != ether_type_ipv4 ||
      arp.hardware_length != sizeof(MacAddress) || arp.protocol_length != sizeof(std::uint32_t) ||
      (operation != arp_operation_request && operation != arp_operation_reply)) {
    return std::nullopt;
  }
  return view;
}

std::size_t write_arp_request(std::span<std::byte> frame, const MacAddress& sender_mac, std::uint32_t sender_ip_be,
                              std::uint32_t target_ip_be) noexcept {
  if (frame.size() < min_ethernet_frame) return 0;
  auto* ethernet = reinterpret_cast<EthernetHeader*>(frame.data());
  ethernet->destination = broadcast_mac;
  ethernet->source = sender_mac;
  ethernet->ether_type_be = htons(ether_type_arp);
  auto* arp = reinterpret_cast<ArpPacket*>(frame.data() + sizeof(EthernetHeader));
  arp->hardware_type_be = htons(arp_hardware_ethernet);
  arp->protocol_type_be = htons(ether_type_ipv4);
  arp->hardware_length = sizeof(MacAddress);
  arp->protocol_length = sizeof(std::uint32_t);
  arp->operation_be = htons(arp_operation_request);
  arp->sender_mac = sender_mac;
  arp->sender_ip_be = sender_ip_be;
  arp->target_mac = MacAddress{};  // unknown: what the request asks for
  arp->target_ip_be = target_ip_be;
  std::memset(frame.data() + arp_frame_size, 0, min_ethernet_frame - arp_frame_size);
  return min_ethernet_frame;
}

void turn_into_arp_reply(ArpFrameView frame, const MacAddress& local_mac) noexcept {
  ArpPacket& arp = *frame.arp;
  // Packed fields cannot bind to references: swap through copies.
  const MacAddress requester_mac = arp.sender_mac;
  const std::uint32_t requester_ip = arp.sender_ip_be;
  const std::uint32_t asked_ip = arp.target_ip_be;
  arp.operation_be = htons(arp_operation_reply);
  arp.target_mac = requester_mac;
  arp.target_ip_be = requester_ip;
  arp.sender_mac = local_mac;
  arp.sender_ip_be = asked_ip;
  frame.ethernet->destination = requester_mac;
  frame.ethernet->source = local_mac;
}

}  // namespace aether::net
