// A frame blaster and a sink: the two ends of a throughput measurement.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "aether/dataplane/echo.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/mem/mempool_cache.hpp"
#include "aether/net/port.hpp"

namespace aether::dataplane {

// Sends copies of one template frame as fast as the queue takes them.
class TrafficSender final : public Poller {
 public:
  // `frame` is copied once; each burst copies it into fresh buffers.
  TrafficSender(net::Queue& queue, mem::Mempool& pool, std::vector<std::byte> frame);
  bool poll() noexcept override;
  [[nodiscard]] std::uint64_t sent() const noexcept { return sent_.get(); }
  [[nodiscard]] std::uint64_t sent_bytes() const noexcept { return sent_bytes_.get(); }
  [[nodiscard]] std::uint64_t refused() const noexcept { return refused_.get(); }  // not taken: freed, re-offered as new frames
  // Stops offering frames; poll() then only reaps completions.
  void pause() noexcept { paused_.store(true, std::memory_order_relaxed); }

 private:
  net::Queue& queue_;
  mem::Mempool& pool_;
  mem::MempoolCache cache_;
  std::vector<std::byte> frame_;
  net::QueueCounters::Counter sent_, sent_bytes_, refused_;
  std::atomic<bool> paused_{false};
};

// Receives and frees everything, counting packets and bytes.
class TrafficSink final : public Poller {
 public:
  TrafficSink(net::Queue& queue, mem::Mempool& pool) : queue_(queue), pool_(pool), cache_(pool, 256) {}
  bool poll() noexcept override;
  [[nodiscard]] std::uint64_t received() const noexcept { return received_.get(); }
  [[nodiscard]] std::uint64_t received_bytes() const noexcept { return received_bytes_.get(); }

 private:
  net::Queue& queue_;
  mem::Mempool& pool_;
  mem::MempoolCache cache_;
  net::QueueCounters::Counter received_, received_bytes_;
};

}  // namespace aether::dataplane
