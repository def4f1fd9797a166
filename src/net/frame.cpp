// Ethernet / IPv4 / UDP parsing and building. Every read is bounds-checked
// against the caller's span before it happens.
#include "aether/net/frame.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace aether::net {

std::string_view to_string(FrameError error) noexcept {
  switch (error) {
    case FrameError::none: return "none";
    case FrameError::too_short: return "too short";
    case FrameError::not_ipv4: return "not IPv4";
    case FrameError::bad_ip_header: return "bad IPv4 header";
    case FrameError::ip_fragment: return "IPv4 fragment";
    case FrameError::not_udp: return "not UDP";
    case FrameError::bad_udp_length: return "bad UDP length";
    case FrameError::bad_ip_checksum: return "bad IPv4 checksum";
  }
  return "unknown";
}

std::uint16_t internet_checksum_be(std::span<const std::byte> bytes) noexcept {
  // RFC 1071: one's-complement sum of 16-bit words, odd byte padded with zero.
  // Summing the bytes as big-endian words and storing with htons gives the
  // field in network order on any host.
  std::uint64_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) {
    sum += (static_cast<std::uint32_t>(bytes[i]) << 8) | static_cast<std::uint32_t>(bytes[i + 1]);
  }
  if (i < bytes.size()) sum += static_cast<std::uint32_t>(bytes[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<std::uint16_t>(~sum & 0xffff));
}

std::optional<Ipv4FrameView> parse_ipv4_frame(std::span<std::byte> frame, FrameError& error) noexcept {
  error = FrameError::none;
  if (frame.size() < sizeof(EthernetHeader) + sizeof(Ipv4Header)) {
    error = FrameError::too_short;
    return std::nullopt;
  }
  Ipv4FrameView view;
  view.ethernet = reinterpret_cast<EthernetHeader*>(frame.data());
  if (ntohs(view.ethernet->ether_type_be) != ether_type_ipv4) {
    error = FrameError::not_ipv4;
    return std::nullopt;
  }
  const std::span<std::byte> ip_bytes = frame.subspan(sizeof(EthernetHeader));
  view.ip = reinterpret_cast<Ipv4Header*>(ip_bytes.data());
  const std::size_t header_length = static_cast<std::size_t>(view.ip->version_ihl & 0x0f) * 4;
  const std::size_t total_length = ntohs(view.ip->total_length_be);
  // Ethernet pads short frames, so the frame may be longer than the packet, never shorter.
  if ((view.ip->version_ihl >> 4) != 4 || header_length < sizeof(Ipv4Header) || total_length < header_length ||
      total_length > ip_bytes.size()) {
    error = FrameError::bad_ip_header;
    return std::nullopt;
  }
  if (internet_checksum_be(ip_bytes.first(header_length)) != 0) {
    error = FrameError::bad_ip_checksum;
    return std::nullopt;
  }
  // More-fragments flag (0x2000) or a non-zero fragment offset (0x1fff), RFC 791 section 3.1.
  if ((ntohs(view.ip->flags_fragment_be) & 0x3fff) != 0) {
    error = FrameError::ip_fragment;
    return std::nullopt;
  }
  view.payload = ip_bytes.subspan(header_length, total_length - header_length);
  return view;
}

std::optional<UdpFrameView> parse_udp_frame(std::span<std::byte> frame, FrameError& error) noexcept {
  const auto ipv4 = parse_ipv4_frame(frame, error);
  if (!ipv4) return std::nullopt;
  return parse_udp_payload(*ipv4, error);
}

std::optional<UdpFrameView> parse_udp_payload(const Ipv4FrameView& ipv4, FrameError& error) noexcept {
  error = FrameError::none;
  if (ipv4.ip->protocol != ip_protocol_udp) {
    error = FrameError::not_udp;
    return std::nullopt;
  }
  UdpFrameView view;
  view.ethernet = ipv4.ethernet;
  view.ip = ipv4.ip;
  const std::span<std::byte> ip_payload = ipv4.payload;
  if (ip_payload.size() < sizeof(UdpHeader)) {
    error = FrameError::too_short;
    return std::nullopt;
  }
  view.udp = reinterpret_cast<UdpHeader*>(ip_payload.data());
  const std::size_t udp_length = ntohs(view.udp->length_be);
  if (udp_length < sizeof(UdpHeader) || udp_length > ip_payload.size()) {
    error = FrameError::bad_udp_length;
    return std::nullopt;
  }
  view.payload = ip_payload.subspan(sizeof(UdpHeader), udp_length - sizeof(UdpHeader));
  return view;
}

void write_ipv4_header(Ipv4Header& ip, std::uint32_t source_be, std::uint32_t destination_be, std::uint8_t protocol,
                       std::size_t payload_size) noexcept {
  ip.version_ihl = 0x45;
  ip.tos = 0;
  ip.total_length_be = htons(static_cast<std::uint16_t>(sizeof(Ipv4Header) + payload_size));
  ip.identification_be = 0;
  ip.flags_fragment_be = htons(0x4000);  // don't fragment
  ip.ttl = 64;
  ip.protocol = protocol;
  ip.checksum_be = 0;
  ip.source_be = source_be;
  ip.destination_be = destination_be;
  ip.checksum_be = internet_checksum_be(std::span(reinterpret_cast<const std::byte*>(&ip), sizeof(Ipv4Header)));
}

std::size_t write_udp_headers(std::span<std::byte> frame, const UdpEndpoint& source, const UdpEndpoint& destination,
                              std::size_t payload_size) noexcept {
  const std::size_t length = udp_frame_header_size + payload_size;
  const std::size_t padded = std::max(length, min_ethernet_frame);
  if (frame.size() < padded || length > 0xffff) return 0;
  auto* ethernet = reinterpret_cast<EthernetHeader*>(frame.data());
  ethernet->destination = destination.mac;
  ethernet->source = source.mac;
  ethernet->ether_type_be = htons(ether_type_ipv4);
  auto* ip = reinterpret_cast<Ipv4Header*>(frame.data() + sizeof(EthernetHeader));
  write_ipv4_header(*ip, source.ip_be, destination.ip_be, ip_protocol_udp, sizeof(UdpHeader) + payload_size);
  auto* udp = reinterpret_cast<UdpHeader*>(frame.data() + sizeof(EthernetHeader) + sizeof(Ipv4Header));
  udp->source_port_be = source.port_be;
  udp->destination_port_be = destination.port_be;
  udp->length_be = htons(static_cast<std::uint16_t>(sizeof(UdpHeader) + payload_size));
  udp->checksum_be = 0;  // optional for IPv4 (RFC 768)
  if (padded > length) std::memset(frame.data() + length, 0, padded - length);
  return padded;
}

void swap_ipv4_for_reply(EthernetHeader& ethernet, Ipv4Header& ip) noexcept {
  // Packed fields cannot bind to references: swap through copies.
  const MacAddress mac = ethernet.destination;
  ethernet.destination = ethernet.source;
  ethernet.source = mac;
  const std::uint32_t address = ip.source_be;
  ip.source_be = ip.destination_be;
  ip.destination_be = address;
  ip.ttl = 64;
  ip.checksum_be = 0;
  const std::size_t header_length = static_cast<std::size_t>(ip.version_ihl & 0x0f) * 4;
  ip.checksum_be = internet_checksum_be(std::span(reinterpret_cast<const std::byte*>(&ip), header_length));
}

void swap_for_echo(UdpFrameView& frame) noexcept {
  swap_ipv4_for_reply(*frame.ethernet, *frame.ip);
  const std::uint16_t port = frame.udp->source_port_be;
  frame.udp->source_port_be = frame.udp->destination_port_be;
  frame.udp->destination_port_be = port;
  // The UDP checksum covers a pseudo-header whose sum is unchanged by swapping
  // source and destination, so it stays valid.
}

std::optional<MacAddress> parse_mac(std::string_view text) noexcept {
  MacAddress mac{};
  if (text.size() != 17) return std::nullopt;
  for (std::size_t i = 0; i < 6; ++i) {
    const std::string_view octet = text.substr(i * 3, 2);
    if (i < 5 && text[i * 3 + 2] != ':') return std::nullopt;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(octet.data(), octet.data() + 2, value, 16);
    if (ec != std::errc() || end != octet.data() + 2) return std::nullopt;
    mac[i] = static_cast<std::uint8_t>(value);
  }
  return mac;
}

std::string format_mac(const MacAddress& mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

std::optional<std::uint32_t> parse_ipv4_be(std::string_view text) noexcept {
  char buffer[INET_ADDRSTRLEN] = {};
  if (text.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  in_addr address{};
  if (inet_pton(AF_INET, buffer, &address) != 1) return std::nullopt;
  return address.s_addr;
}

std::string format_ipv4_be(std::uint32_t ip_be) {
  char buffer[INET_ADDRSTRLEN] = {};
  in_addr address{};
  address.s_addr = ip_be;
  inet_ntop(AF_INET, &address, buffer, sizeof buffer);
  return buffer;
}

}  // namespace aether::net
