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
//
// Per frame it does what DPDK testpmd's txonly mode does, so the two are
// compared on equal work: it writes the headers (the first `written_bytes`
// of `frame`, by default the Ethernet/IPv4/UDP headers) into a buffer from
// the pool and sets the length; the payload is whatever the buffer holds.
// Frames tx_burst did not take are kept, already written, and offered
// first in the next burst (no free, no allocation, no rewrite).
class TrafficSender final : public Poller {
 public:
  // `frame` is copied once.
  TrafficSender(net::Queue& queue, mem::Mempool& pool, std::vector<std::byte> frame,
                std::size_t written_bytes = net::udp_frame_header_size);
  ~TrafficSender() override;  // the held frames go back to the pool
  TrafficSender(const TrafficSender&) = delete;
  TrafficSender& operator=(const TrafficSender&) = delete;
  bool poll() noexcept override;
  [[nodiscard]] std::uint64_t sent() const noexcept { return sent_.get(); }
  [[nodiscard]] std::uint64_t sent_bytes() const noexcept { return sent_bytes_.get(); }
  // Offers tx_burst did not take (the frames stay held and are offered again).
  [[nodiscard]] std::uint64_t refused() const noexcept { return refused_.get(); }
  // Frames written: sent plus held; never more (a refused frame is not rewritten).
  [[nodiscard]] std::uint64_t written() const noexcept { return written_.get(); }
  // Stops offering frames; poll() then returns the held ones and only reaps completions.
  void pause() noexcept { paused_.store(true, std::memory_order_relaxed); }

 private:
  void release_held() noexcept;

  net::Queue& queue_;
  mem::Mempool& pool_;
  mem::MempoolCache cache_;
  std::vector<std::byte> frame_;
  std::size_t written_bytes_;
  std::array<mem::Packet*, burst_size> held_{};  // written, not yet taken: held_[0, held_count_)
  unsigned held_count_ = 0;
  net::QueueCounters::Counter sent_, sent_bytes_, refused_, written_;
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
