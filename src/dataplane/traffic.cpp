#include "aether/dataplane/traffic.hpp"

#include <cstring>

namespace aether::dataplane {

TrafficSender::TrafficSender(net::Queue& queue, mem::Mempool& pool, std::vector<std::byte> frame)
    : queue_(queue), pool_(pool), cache_(pool, 256), frame_(std::move(frame)) {}

bool TrafficSender::poll() noexcept {
  if (paused_.load(std::memory_order_relaxed)) {
    (void)queue_.tx_burst(std::span<mem::Packet*>());  // reap completions
    return false;
  }
  std::array<mem::Packet*, burst_size> burst{};
  const unsigned count = pool_.alloc_bulk(burst, &cache_);
  const auto length = static_cast<std::uint16_t>(frame_.size());
  unsigned ready = 0;
  for (unsigned i = 0; i < count; ++i) {
    mem::Packet* packet = burst[i];
    if (packet->tailroom() < length) break;
    std::memcpy(packet->data(), frame_.data(), length);
    (void)packet->set_length(length);
    ++ready;
  }
  const unsigned taken = queue_.tx_burst(std::span(burst.data(), ready));
  sent_.add(taken);
  sent_bytes_.add(static_cast<std::uint64_t>(taken) * length);
  if (taken < count) {
    refused_.add(ready - taken);
    pool_.free_bulk(std::span(burst.data() + taken, count - taken), &cache_);
  }
  return count > 0;
}

bool TrafficSink::poll() noexcept {
  std::array<mem::Packet*, burst_size> burst{};
  const unsigned count = queue_.rx_burst(burst);
  if (count == 0) return false;
  std::uint64_t bytes = 0;
  for (unsigned i = 0; i < count; ++i) bytes += burst[i]->length();
  received_.add(count);
  received_bytes_.add(bytes);
  pool_.free_bulk(std::span(burst.data(), count), &cache_);
  return true;
}

}  // namespace aether::dataplane
