#include "aether/dataplane/echo.hpp"

#include <arpa/inet.h>

namespace aether::dataplane {

bool EchoResponder::answer(mem::Packet& packet) noexcept {
  const std::span<std::byte> bytes(packet.data(), packet.length());
  if (local_ && bytes.size() >= sizeof(net::EthernetHeader) &&
      ntohs(reinterpret_cast<const net::EthernetHeader*>(bytes.data())->ether_type_be) == net::ether_type_arp) {
    return count_local_answer(answer_arp(packet, *local_), counters_.arp_replies);
  }
  net::FrameError error{};
  const auto ipv4 = net::parse_ipv4_frame(bytes, error);
  if (ipv4 && local_ && ipv4->ip->protocol == net::ip_protocol_icmp) {
    return count_local_answer(answer_icmp(*ipv4, *local_), counters_.icmp_replies);
  }
  auto frame = ipv4 ? net::parse_udp_payload(*ipv4, error) : std::nullopt;
  if (!frame) {
    counters_.dropped_not_udp.add(1);
    counters_.dropped_by_reason[static_cast<unsigned>(error) % counters_.dropped_by_reason.size()].add(1);
    return false;
  }
  if (local_) {
    if (frame->ip->destination_be != local_->ip_be) {
      counters_.dropped_not_for_us.add(1);
      return false;
    }
    counters_.udp_replies.add(1);
  }
  net::swap_for_echo(*frame);
  return true;
}

bool EchoResponder::count_local_answer(LocalAnswer answer, net::QueueCounters::Counter& replies) noexcept {
  switch (answer) {
    case LocalAnswer::reply: replies.add(1); return true;
    case LocalAnswer::not_for_us: counters_.dropped_not_for_us.add(1); return false;
    case LocalAnswer::malformed: counters_.dropped_malformed.add(1); return false;
  }
  return false;
}

bool EchoResponder::poll() noexcept {
  // Bursts are not value-initialised: only [0, count) is written and read
  // (zeroing them cost a `rep stos` per poll, see TrafficSink::poll).
  std::array<mem::Packet*, burst_size> received;
  const unsigned count = queue_.rx_burst(received);
  if (count == 0) {
    // Reap transmit completions while idle (backends with completion rings).
    (void)queue_.tx_burst(std::span<mem::Packet*>());
    return false;
  }
  counters_.received.add(count);

  // Partition in place: replies to the front, refused frames to the back.
  std::array<mem::Packet*, burst_size> refused;
  unsigned replies = 0;
  unsigned refused_count = 0;
  for (unsigned i = 0; i < count; ++i) {
    mem::Packet* packet = received[i];
    if (answer(*packet)) {
      received[replies++] = packet;
    } else {
      refused[refused_count++] = packet;
    }
  }
  if (refused_count > 0) pool_.free_bulk(std::span(refused.data(), refused_count));
  const unsigned sent = queue_.tx_burst(std::span(received.data(), replies));
  counters_.sent.add(sent);
  if (sent < replies) {
    counters_.dropped_tx_full.add(replies - sent);
    pool_.free_bulk(std::span(received.data() + sent, replies - sent));
  }
  return true;
}

bool Forwarder::poll() noexcept {
  std::array<mem::Packet*, burst_size> burst;  // [0, count) only, as above
  const unsigned count = input_.rx_burst(burst);
  if (count == 0) {
    // Give the output a chance to reap completions even when idle.
    (void)output_.tx_burst(std::span<mem::Packet*>());
    return false;
  }
  const unsigned sent = output_.tx_burst(std::span(burst.data(), count));
  forwarded_.add(sent);
  if (sent < count) {
    dropped_.add(count - sent);
    pool_.free_bulk(std::span(burst.data() + sent, count - sent));
  }
  return true;
}

}  // namespace aether::dataplane
