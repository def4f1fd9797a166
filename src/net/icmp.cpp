// ICMP echo (RFC 792) over IPv4.
#include "aether/net/icmp.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace aether::net {

std::optional<IcmpEchoView> parse_icmp_echo(const Ipv4FrameView& frame, IcmpError& error) noexcept {
  error = IcmpError::none;
  if (frame.payload.size() < sizeof(IcmpEchoHeader)) {
    error = IcmpError::too_short;
    return std::nullopt;
  }
  if (internet_checksum_be(frame.payload) != 0) {
    error = IcmpError::bad_checksum;
    return std::nullopt;
  }
  IcmpEchoView view{frame.ethernet, frame.ip, reinterpret_cast<IcmpEchoHeader*>(frame.payload.data()), frame.payload};
  if ((view.icmp->type != icmp_type_echo_request && view.icmp->type != icmp_type_echo_reply) || view.icmp->code != 0) {
    error = IcmpError::not_echo;
    return std::nullopt;
  }
  return view;
}

std::size_t write_icmp_echo_request(std::span<std::byte> frame, const MacAddress& source_mac,
                                    std::uint32_t source_ip_be, const MacAddress& destination_mac,
                                    std::uint32_t destination_ip_be, std::uint16_t identifier, std::uint16_t sequence,
                                    std::size_t data_size) noexcept {
  const std::size_t length = icmp_echo_frame_header_size + data_size;
  const std::size_t padded = std::max(length, min_ethernet_frame);
  if (frame.size() < padded || length - sizeof(EthernetHeader) > 0xffff) return 0;
  auto* ethernet = reinterpret_cast<EthernetHeader*>(frame.data());
  ethernet->destination = destination_mac;
  ethernet->source = source_mac;
  ethernet->ether_type_be = htons(ether_type_ipv4);
  auto* ip = reinterpret_cast<Ipv4Header*>(frame.data() + sizeof(EthernetHeader));
  write_ipv4_header(*ip, source_ip_be, destination_ip_be, ip_protocol_icmp, sizeof(IcmpEchoHeader) + data_size);
  const std::span<std::byte> message = frame.subspan(sizeof(EthernetHeader) + sizeof(Ipv4Header),
                                                     sizeof(IcmpEchoHeader) + data_size);
  auto* icmp = reinterpret_cast<IcmpEchoHeader*>(message.data());
  icmp->type = icmp_type_echo_request;
  icmp->code = 0;
  icmp->checksum_be = 0;
  icmp->identifier_be = htons(identifier);
  icmp->sequence_be = htons(sequence);
  icmp->checksum_be = internet_checksum_be(message);
  if (padded > length) std::memset(frame.data() + length, 0, padded - length);
  return padded;
}

void turn_into_echo_reply(IcmpEchoView& frame) noexcept {
  swap_ipv4_for_reply(*frame.ethernet, *frame.ip);
  // Only the type changes (8 -> 0, the high byte of the first 16-bit word):
  // update the checksum incrementally, RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'),
  // in one's-complement arithmetic over host-order words.
  const std::uint16_t old_word = static_cast<std::uint16_t>(frame.icmp->type << 8 | frame.icmp->code);
  frame.icmp->type = icmp_type_echo_reply;
  const std::uint16_t new_word = static_cast<std::uint16_t>(frame.icmp->type << 8 | frame.icmp->code);
  std::uint32_t sum = static_cast<std::uint16_t>(~ntohs(frame.icmp->checksum_be));
  sum += static_cast<std::uint16_t>(~old_word);
  sum += new_word;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  frame.icmp->checksum_be = htons(static_cast<std::uint16_t>(~sum & 0xffff));
}

}  // namespace aether::net
