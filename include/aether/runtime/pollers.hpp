// Pollers the runtime ships for the shapes most applications have:
//
//   QueueToRing   receive on a port's queue, hand every frame to a ring
//   RingToQueue   take frames from a ring, send them on a port's queue
//   DeadlineTimer call the application every period, on TSC deadlines
//
// A two-worker pipeline is QueueToRing on worker A, the application's own
// poller (ring in, ring out) or RingToQueue on worker B: the ring is the
// only thing the two workers share (ring/spsc_ring.hpp: one producer, one
// consumer, no lock). All of them are data path: noexcept, no allocation,
// no syscall beyond what the port's burst makes, no lock.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <utility>

#include "aether/core/clock.hpp"
#include "aether/dataplane/poller.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port.hpp"
#include "aether/ring/spsc_ring.hpp"

namespace aether::runtime {

// Frames handed between workers. Made with PacketRing::create(capacity) on
// the control path (a power of two); the producer and consumer pollers must
// run on one worker each.
using PacketRing = SpscRing<net::Packet*>;

// Most frames one poll moves: one burst (STYLE.md convention 3).
inline constexpr std::size_t poller_burst = 32;

// Frees `packets` to the pools they came from (each knows its pool), one
// call per packet: for drops, which are rare.
inline void free_to_their_pools(std::span<net::Packet* const> packets) noexcept {
  for (net::Packet* packet : packets) packet->pool->free_bulk(std::span(&packet, 1));
}

// Receives a burst on `queue` and pushes it into `ring`. Frames the ring has
// no room for are freed and counted: a slow consumer costs drops on this
// side, never a stall of the receiving worker.
class QueueToRing final : public dataplane::Poller {
 public:
  QueueToRing(net::Queue& queue, PacketRing& ring) noexcept : queue_(queue), ring_(ring) {}

  bool poll() noexcept override {
    std::array<net::Packet*, poller_burst> packets;
    const unsigned received = queue_.rx_burst(packets);
    if (received == 0) return false;
    const std::size_t pushed = ring_.push_bulk(std::span<net::Packet* const>(packets.data(), received));
    if (pushed < received) {
      free_to_their_pools(std::span<net::Packet* const>(packets.data() + pushed, received - pushed));
      ring_full_drops_.fetch_add(received - pushed, std::memory_order_relaxed);
    }
    return true;
  }
  [[nodiscard]] net::Queue* rx_queue() const noexcept override { return &queue_; }

  // Frames freed because the ring was full. Single writer (this poller's
  // worker); relaxed: a counter, read for reporting.
  [[nodiscard]] std::uint64_t ring_full_drops() const noexcept {
    return ring_full_drops_.load(std::memory_order_relaxed);
  }

 private:
  net::Queue& queue_;
  PacketRing& ring_;
  std::atomic<std::uint64_t> ring_full_drops_{0};
};

// Pops a burst from `ring` and sends it on `queue`. What tx_burst does not
// take (a full tx ring) stays here and goes first next poll: nothing is lost
// and the ring's order is kept.
class RingToQueue final : public dataplane::Poller {
 public:
  RingToQueue(PacketRing& ring, net::Queue& queue) noexcept : ring_(ring), queue_(queue) {}

  bool poll() noexcept override {
    if (pending_count_ < poller_burst) {
      pending_count_ += ring_.pop_bulk(std::span(pending_.data() + pending_count_, poller_burst - pending_count_));
    }
    if (pending_count_ == 0) return false;
    const unsigned sent = queue_.tx_burst(std::span(pending_.data(), pending_count_));
    // Keep the rest at the front, in order.
    std::move(pending_.begin() + sent, pending_.begin() + pending_count_, pending_.begin());
    pending_count_ -= sent;
    sent_.fetch_add(sent, std::memory_order_relaxed);
    return true;
  }

  // Frames tx_burst took. Single writer; relaxed: a counter.
  [[nodiscard]] std::uint64_t sent() const noexcept { return sent_.load(std::memory_order_relaxed); }

 private:
  PacketRing& ring_;
  net::Queue& queue_;
  std::array<net::Packet*, poller_burst> pending_{};
  std::size_t pending_count_ = 0;
  std::atomic<std::uint64_t> sent_{0};
};

// Calls `callback()` every `period` of `clock` (TSC ticks where the TSC is
// trustworthy, core/clock.hpp), checked at every poll: one clock read per
// loop, no syscall, no timerfd. A deadline missed by more than a period
// (the worker was busy or preempted) is not caught up in a burst: the next
// deadline is one period after now, and missed() counts the skipped ones.
// `Callback` is a template parameter, not a std::function: the call is
// direct and allocates nothing.
template <class Callback>
class DeadlineTimer final : public dataplane::Poller {
 public:
  DeadlineTimer(const Clock& clock, std::chrono::nanoseconds period, Callback callback)
      : clock_(clock),
        period_ticks_(std::max<std::uint64_t>(1, clock.from_ns(static_cast<std::uint64_t>(period.count())))),
        deadline_(clock.now() + period_ticks_),
        callback_(std::move(callback)) {}

  bool poll() noexcept override {
    const std::uint64_t now = clock_.now();
    if (now < deadline_) return false;
    const std::uint64_t late = (now - deadline_) / period_ticks_;
    missed_.fetch_add(late, std::memory_order_relaxed);
    deadline_ += (late + 1) * period_ticks_;
    fired_.fetch_add(1, std::memory_order_relaxed);
    callback_();
    return true;
  }

  // Single writer (the worker); relaxed: counters.
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t missed() const noexcept { return missed_.load(std::memory_order_relaxed); }

 private:
  const Clock& clock_;
  std::uint64_t period_ticks_;
  std::uint64_t deadline_;
  Callback callback_;
  std::atomic<std::uint64_t> fired_{0};
  std::atomic<std::uint64_t> missed_{0};
};

}  // namespace aether::runtime
