// UDP echo responder and L2 forwarder: the two reference pollers.
//
// Both keep the books balanced: every packet received is either sent or
// counted in exactly one drop counter (rx = tx + drops).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "aether/dataplane/poller.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/port.hpp"

namespace aether::dataplane {

inline constexpr unsigned burst_size = 32;

// Single-writer counters readable from other threads (see QueueCounters).
struct EchoCounters {
  net::QueueCounters::Counter received;
  net::QueueCounters::Counter sent;
  net::QueueCounters::Counter dropped_not_udp;     // parse failed: see by_reason
  net::QueueCounters::Counter dropped_tx_full;     // tx_burst did not take it
  std::array<net::QueueCounters::Counter, 8> dropped_by_reason;  // indexed by net::FrameError
};

// Answers every IPv4/UDP frame with the same payload, MAC/IP/port swapped.
// Frames that are not IPv4/UDP are dropped and counted by reason.
class EchoResponder final : public Poller {
 public:
  EchoResponder(net::Queue& queue, mem::Mempool& pool) noexcept : queue_(queue), pool_(pool) {}
  bool poll() noexcept override;
  [[nodiscard]] const EchoCounters& counters() const noexcept { return counters_; }

 private:
  net::Queue& queue_;
  mem::Mempool& pool_;
  EchoCounters counters_;
};

// Sends everything received on `input` out of `output` unchanged (testpmd's
// io mode). What `output` does not take is freed and counted.
class Forwarder final : public Poller {
 public:
  Forwarder(net::Queue& input, net::Queue& output, mem::Mempool& pool) noexcept
      : input_(input), output_(output), pool_(pool) {}
  bool poll() noexcept override;
  [[nodiscard]] std::uint64_t forwarded() const noexcept { return forwarded_.get(); }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.get(); }

 private:
  net::Queue& input_;
  net::Queue& output_;
  mem::Mempool& pool_;
  net::QueueCounters::Counter forwarded_;
  net::QueueCounters::Counter dropped_;
};

}  // namespace aether::dataplane
