// The load generator of `aether bench latency`: sends timestamped UDP
// probes through a port to an echo responder and records every round trip.
//
// Two disciplines:
//  - closed loop (rate 0): one probe in flight; the next leaves when the
//    reply arrives (or after `reply_timeout`, counted lost). Measures the
//    path's own round trip without queueing.
//  - fixed rate: probe i is due at start + i / rate. Its round trip is
//    measured from when it was DUE, not when it left, so a stall of the
//    generator or the path shows up in the figures instead of silently
//    delaying the schedule (no coordinated omission).
// Probes of the warm-up are sent and answered but not recorded.
#pragma once

#include <cstdint>
#include <vector>

#include "aether/core/clock.hpp"
#include "aether/dataplane/poller.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/mem/mempool_cache.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/port.hpp"
#include "aether/stats/latency_histogram.hpp"

namespace aether::measure {

// The payload of a probe, right after the UDP header.
struct [[gnu::packed]] ProbePayload {
  std::uint32_t magic;         // probe_magic
  std::uint64_t sequence;
  std::uint64_t due_tick;      // generator's clock ticks when the probe was due
  std::uint16_t reserved;
};
static_assert(sizeof(ProbePayload) == 22);
inline constexpr std::uint32_t probe_magic = 0xae7e1a7e;
// 42 bytes of headers + 22 of payload: a 64-byte frame (FCS not counted).
static_assert(net::udp_frame_header_size + sizeof(ProbePayload) == 64);

struct GeneratorConfig {
  net::UdpEndpoint source;
  net::UdpEndpoint destination;
  double rate_per_second = 100'000;     // 0: closed loop
  std::uint64_t warmup_probes = 10'000;
  std::uint64_t probes = 100'000;       // recorded probes after the warm-up
  std::size_t frame_size = 64;          // bytes without FCS, at least 64
  std::uint64_t reply_timeout_ns = 100'000'000;  // closed loop: give up on a probe after this
  std::uint64_t drain_ns = 200'000'000;          // after the last probe: wait this long for replies
};

struct GeneratorResult {
  LatencyHistogram round_trip_ns;
  std::uint64_t sent = 0;          // probes handed to the port (warm-up included)
  std::uint64_t received = 0;      // replies matched to a probe (warm-up included)
  std::uint64_t lost = 0;          // sent, never answered within the drain time
  std::uint64_t unexpected = 0;    // frames that were not a reply to an outstanding probe
  std::uint64_t late_send_ns_max = 0;  // fixed rate: worst lag between due and actual send
  std::uint64_t elapsed_ns = 0;    // first send to last reply
};

// A Poller: drive it from a pinned Worker. finished() turns true when all
// probes were sent and answered or the drain time is over.
class LatencyGenerator final : public dataplane::Poller {
 public:
  LatencyGenerator(const GeneratorConfig& config, net::Queue& queue, mem::Mempool& pool, const Clock& clock);

  bool poll() noexcept override;
  [[nodiscard]] bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  // After the worker stopped early (Ctrl-C): closes the books as they are.
  void close() noexcept {
    if (!finished()) finish(clock_.now());
  }
  // Read only after finished() or after the worker stopped.
  [[nodiscard]] GeneratorResult& result() noexcept { return result_; }
  // Progress for people, readable while running (relaxed).
  [[nodiscard]] std::uint64_t progress_sent() const noexcept { return progress_sent_.load(std::memory_order_relaxed); }

 private:
  void send_due(std::uint64_t now) noexcept;
  void receive(std::uint64_t now) noexcept;
  void finish(std::uint64_t now) noexcept;

  GeneratorConfig config_;
  net::Queue& queue_;
  mem::Mempool& pool_;
  mem::MempoolCache cache_;
  const Clock& clock_;
  GeneratorResult result_;
  std::vector<std::uint8_t> answered_;  // per sequence: 1 once its reply came
  std::uint64_t total_ = 0;             // warm-up + recorded probes
  std::uint64_t next_sequence_ = 0;
  std::uint64_t start_tick_ = 0;
  std::uint64_t period_ticks_ = 0;      // 0 in closed loop
  std::uint64_t in_flight_since_ = 0;   // closed loop: when the outstanding probe left
  bool in_flight_ = false;
  std::uint64_t last_sent_tick_ = 0;
  std::uint64_t last_reply_tick_ = 0;
  std::uint64_t first_send_tick_ = 0;
  std::atomic<bool> finished_{false};
  std::atomic<std::uint64_t> progress_sent_{0};
};

}  // namespace aether::measure
