#include "aether/dataplane/echo.hpp"

namespace aether::dataplane {

bool EchoResponder::poll() noexcept {
  std::array<mem::Packet*, burst_size> received{};
  const unsigned count = queue_.rx_burst(received);
  if (count == 0) return false;
  counters_.received.add(count);

  // Partition in place: replies to the front, refused frames to the back.
  std::array<mem::Packet*, burst_size> refused{};
  unsigned replies = 0;
  unsigned refused_count = 0;
  for (unsigned i = 0; i < count; ++i) {
    mem::Packet* packet = received[i];
    net::FrameError error{};
    auto frame = net::parse_udp_frame(std::span(packet->data(), packet->length()), error);
    if (frame) {
      net::swap_for_echo(*frame);
      received[replies++] = packet;
    } else {
      counters_.dropped_by_reason[static_cast<unsigned>(error) % counters_.dropped_by_reason.size()].add(1);
      refused[refused_count++] = packet;
    }
  }
  if (refused_count > 0) {
    counters_.dropped_not_udp.add(refused_count);
    pool_.free_bulk(std::span(refused.data(), refused_count));
  }
  const unsigned sent = queue_.tx_burst(std::span(received.data(), replies));
  counters_.sent.add(sent);
  if (sent < replies) {
    counters_.dropped_tx_full.add(replies - sent);
    pool_.free_bulk(std::span(received.data() + sent, replies - sent));
  }
  return true;
}

bool Forwarder::poll() noexcept {
  std::array<mem::Packet*, burst_size> burst{};
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
