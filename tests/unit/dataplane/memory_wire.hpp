// Two queues joined in memory, for dataplane unit tests: what one end's
// tx_burst takes, the other end's rx_burst returns, copied into a buffer of
// the receiving end's pool. No privileges, no kernel.
//
// A queue can be told to take only `tx_room` more frames, to make a full
// transmit ring.
#pragma once

#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "aether/mem/mempool.hpp"
#include "aether/net/port.hpp"

namespace aether::test {

class MemoryQueue final : public net::Queue {
 public:
  explicit MemoryQueue(mem::Mempool& pool) : pool_(pool) {}
  void connect(MemoryQueue& peer) noexcept { peer_ = &peer; }

  unsigned rx_burst(std::span<mem::Packet*> packets) noexcept override {
    unsigned count = 0;
    while (count < packets.size() && !inbox_.empty()) {
      mem::Packet* packet = nullptr;
      if (pool_.alloc_bulk(std::span(&packet, 1)) != 1) break;
      const auto& frame = inbox_.front();
      std::memcpy(packet->data(), frame.data(), frame.size());
      (void)packet->set_length(static_cast<std::uint16_t>(frame.size()));
      inbox_.pop_front();
      counters_.rx_packets.add(1);
      packets[count++] = packet;
    }
    return count;
  }

  unsigned tx_burst(std::span<mem::Packet*> packets) noexcept override {
    unsigned taken = 0;
    for (mem::Packet* packet : packets) {
      if (tx_room == 0) break;
      --tx_room;
      std::vector<std::byte> frame(packet->data(), packet->data() + packet->length());
      sent.push_back(frame);
      if (peer_ != nullptr) peer_->inbox_.push_back(std::move(frame));
      counters_.tx_packets.add(1);
      packet->pool->free_bulk(std::span(&packet, 1));
      ++taken;
    }
    return taken;
  }

  // Puts a frame where the next rx_burst finds it.
  void deliver(std::span<const std::byte> frame) { inbox_.emplace_back(frame.begin(), frame.end()); }
  [[nodiscard]] std::size_t waiting() const noexcept { return inbox_.size(); }

  std::vector<std::vector<std::byte>> sent;  // everything tx_burst took, in order
  std::size_t tx_room = std::numeric_limits<std::size_t>::max();

 private:
  mem::Mempool& pool_;
  MemoryQueue* peer_ = nullptr;
  std::deque<std::vector<std::byte>> inbox_;
};

inline std::unique_ptr<mem::Mempool> make_pool(std::size_t buffers, const char* name) {
  mem::MempoolConfig config;
  config.count = static_cast<std::uint32_t>(buffers);
  config.name = name;
  config.region.use_hugepages = false;
  auto pool = mem::Mempool::create(config);
  EXPECT_TRUE(pool) << pool.error().describe();
  return pool ? std::move(*pool) : nullptr;
}

}  // namespace aether::test
