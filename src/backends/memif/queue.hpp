// MemifQueue: what every memif queue pair shares whatever its role: the
// binding to the current connection's rings, the hand-over of that binding
// between the control thread and the data path, the counters, and waking a
// peer that asked for interrupts.
//
// The data-path variants (server_queue.hpp, client_queue.hpp) are chosen
// once, when the port opens: one virtual call per burst, no role branch in
// the packet loop.
//
// Hand-over: the control thread must never unmap rings a burst is reading,
// and the queue's state (cursors, lent buffers) belongs to its one worker.
// So the worker itself switches bindings, at the start of a burst, and
// acknowledges each request by its epoch:
//   control:   e = request(b)       requested = b; epoch = e (release: b's
//                                    rings and regions, and b itself, are
//                                    ready before e is seen)
//   data path: every burst          e = epoch (acquire); if e != seen:
//                                    w = requested; if w != current:
//                                    release(current), prepare(w), current = w;
//                                    seen = e; acknowledged = e (release)
//   control:   acknowledged(d)?     acknowledged >= d (acquire: every access
//                                    of the worker to what it used before the
//                                    request of epoch d happened before)
// The control thread frees a binding only once the worker acknowledged the
// epoch d of the request that replaced it. Comparing pointers (adopted !=
// old) is not enough: a worker that loaded `old` just before it was
// replaced has not adopted it yet, and would prepare it after the reap
// (a CONNECTED followed at once by DISCONNECT; issue 13, item 1).
// A burst costs one load of a line that only changes on (dis)connection;
// no fence, no locked instruction. A queue nobody polls keeps its old
// binding (and the connection its memory) until its next burst: the port
// parks such connections until every queue let go (port.cpp).
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "aether/backends/memif_port.hpp"
#include "aether/mem/free_to_owners.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/mem/mempool_cache.hpp"
#include "aether/net/port.hpp"
#include "aether/net/rx_clock.hpp"
#include "peer_notifier.hpp"
#include "region_table.hpp"
#include "ring.hpp"

namespace aether::backends::memif {

// One queue pair's view of one connection. Built by the connection (or a
// test), handed to the queue with request(), valid until released().
struct QueueBinding {
  RingView rx_ring;  // client: S2C ring i, server: C2S ring i; !valid() if the peer has none
  RingView tx_ring;  // client: C2S ring i, server: S2C ring i
  const RegionTable* regions = nullptr;
  int tx_event_fd = -1;  // signalled (by the PeerNotifier) after a publication when the peer's ring lacks MASK_INT
  // Client, copy mode: the fixed buffer of slot s of a ring is at
  // region 0 + *_buffers_offset + s * buffer_size.
  std::uint32_t rx_buffers_offset = 0;
  std::uint32_t tx_buffers_offset = 0;
  std::uint32_t buffer_size = 0;
  // Client, zero copy: the index of the region that is the mempool.
  std::uint16_t pool_region = 1;
};

class MemifQueue : public net::Queue {
 public:
  // `notifier`: who signals the peer when it asks for interrupts (nullptr:
  // nobody; tests of the ring logic alone).
  MemifQueue(mem::Mempool& pool, std::uint16_t port_id, std::uint16_t queue_id, bool interrupt_mode,
             PeerNotifier* notifier = nullptr)
      : pool_(pool),
        cache_(pool),
        notifier_(notifier),
        port_id_(port_id),
        queue_id_(queue_id),
        interrupt_mode_(interrupt_mode) {}
  // Precondition: no binding adopted (adopt_now(nullptr) first).
  ~MemifQueue() override = default;
  MemifQueue(const MemifQueue&) = delete;
  MemifQueue& operator=(const MemifQueue&) = delete;

  // Control thread: the binding the worker should use from its next burst
  // on (nullptr: none). Returns the request's epoch: what the worker used
  // before may be freed once acknowledged(epoch).
  std::uint64_t request(const QueueBinding* binding) noexcept {
    requested_.store(binding, std::memory_order_relaxed);  // published by the epoch's release store
    const std::uint64_t epoch = requested_epoch_.load(std::memory_order_relaxed) + 1;  // the only writer
    requested_epoch_.store(epoch, std::memory_order_release);
    return epoch;
  }

  // Control thread: true once the worker took up request `epoch` (or a
  // later one) and so no longer uses any binding requested before it.
  [[nodiscard]] bool acknowledged(std::uint64_t epoch) const noexcept {
    return acknowledged_epoch_.load(std::memory_order_acquire) >= epoch;
  }

  // Requests `binding` and switches to it at once, on the calling thread.
  // Precondition: no burst runs meanwhile (the worker's own thread, or any
  // thread while nobody polls the queue: tests, the port's destructor).
  void adopt_now(const QueueBinding* binding) noexcept {
    request(binding);
    (void)current_binding();
  }
  void attach(const QueueBinding& binding) noexcept { adopt_now(&binding); }
  void detach() noexcept { adopt_now(nullptr); }

  [[nodiscard]] MemifQueueCounters memif_stats() const noexcept {
    MemifQueueCounters s;
    s.bad_descriptors = memif_counters_.bad_descriptors.get();
    s.bad_indices = memif_counters_.bad_indices.get();
    s.incomplete_chains = memif_counters_.incomplete_chains.get();
    s.tx_link_down = memif_counters_.tx_link_down.get();
    s.tx_longer_than_ring = memif_counters_.tx_longer_than_ring.get();
    s.tx_lost_on_disconnect = memif_counters_.tx_lost_on_disconnect.get();
    s.tx_foreign_copies = memif_counters_.tx_foreign_copies.get();
    s.tx_foreign_frees = memif_counters_.tx_foreign_frees.get();
    s.interrupts_sent = notifier_ != nullptr ? notifier_->sent(queue_id_) : 0;
    s.interrupts_skipped = notifier_ != nullptr ? notifier_->skipped(queue_id_) : 0;
    return s;
  }

  [[nodiscard]] bool interrupt_mode() const noexcept { return interrupt_mode_; }

  // Interrupt mode: the port's per-queue epoll fd, which watches the
  // eventfd the peer writes (edge-triggered: one wake-up per write) and
  // outlives reconnects. -1 in polling mode.
  void set_interrupt_fd(int epoll_fd) noexcept { interrupt_fd_ = epoll_fd; }
  [[nodiscard]] int rx_interrupt_fd() const noexcept override { return interrupt_fd_; }
  // Turning interrupts off (the worker woke up) consumes the wake-up: an
  // edge stays in the epoll fd's ready list, keeping it readable, until an
  // epoll_wait takes it (epoll(7)). Not on the data path: the worker calls
  // this once per sleep. The peer signals every burst in interrupt mode
  // (MASK_INT stays clear), so turning them on needs nothing.
  void set_rx_interrupt(bool enabled) noexcept override {
    if (enabled || interrupt_fd_ < 0) return;
    epoll_event taken{};
    (void)::epoll_wait(interrupt_fd_, &taken, 1, 0);
  }

  // The queue's thread: returns the buffers its cache holds to the pool
  // (an idle worker hands them back for others; tests count them).
  void flush_cache() noexcept { cache_.flush(); }

 protected:
  // The binding for this burst (nullptr: no connection), after switching
  // to the one the control thread asked for, if it changed.
  const QueueBinding* current_binding() noexcept {
    const std::uint64_t epoch = requested_epoch_.load(std::memory_order_acquire);
    if (epoch != seen_epoch_) [[unlikely]] {
      // After the acquire above: at least as new as the request of `epoch`.
      const QueueBinding* wanted = requested_.load(std::memory_order_relaxed);
      if (wanted != current_) {
        if (current_ != nullptr) release(*current_);
        current_ = wanted;
        if (current_ != nullptr) prepare(*current_);
      }
      seen_epoch_ = epoch;
      // Release: every access to the bindings let go of happens before.
      acknowledged_epoch_.store(epoch, std::memory_order_release);
    }
    return current_;
  }

  // The worker, when it takes up a binding / lets one go.
  virtual void prepare(const QueueBinding& binding) noexcept = 0;
  virtual void release(const QueueBinding& binding) noexcept = 0;

  // The MASK_INT value this side writes into the rings it receives on.
  [[nodiscard]] std::uint16_t receive_ring_flags() const noexcept {
    return interrupt_mode_ ? 0 : kRingFlagMaskInterrupt;
  }

  // No connection or no ring: a NIC with its link down drops what it is
  // given; so does this queue, counting it (the caller's packets are taken).
  unsigned drop_while_down(std::span<mem::Packet*> packets) noexcept {
    if (packets.empty()) return 0;
    free_sent(packets);
    counters_.tx_drop_error.add(packets.size());
    memif_counters_.tx_link_down.add(packets.size());
    return static_cast<unsigned>(packets.size());
  }

  // After a publication: a signal if the receiver did not mask interrupts
  // (DPDK eth_memif_tx). Never a write to the peer's eventfd here: the peer
  // could make it block (peer_notifier.hpp). At most one write to our
  // private eventfd per burst, only when the peer asked for interrupts.
  void notify_peer(const QueueBinding& binding, const RingView& ring) noexcept {
    if ((ring.load_flags() & kRingFlagMaskInterrupt) != 0 || binding.tx_event_fd < 0 || notifier_ == nullptr) return;
    notifier_->request(queue_id_);
  }

  // Every rx burst ends here: memif descriptors carry no receive time, so
  // the frames get the poll time (one clock read per burst with frames).
  unsigned stamp_arrivals(std::span<mem::Packet*> packets, unsigned delivered) const noexcept {
    if (delivered == 0) return 0;
    const std::uint64_t now_ns = rx_clock_.now_ns();
    for (unsigned i = 0; i < delivered; ++i) packets[i]->timestamp = now_ns;
    return delivered;
  }

  // Frees packets this queue took: a forwarder's may come from another
  // port's pool, which must get them back (counted: no cache of it here).
  void free_sent(std::span<mem::Packet* const> packets) noexcept {
    const unsigned foreign = mem::free_to_owners(packets, cache_);
    if (foreign != 0) memif_counters_.tx_foreign_frees.add(foreign);
  }

  // Packet metadata for a received segment chain's first segment.
  void stamp(mem::Packet& packet) const noexcept {
    packet.port = port_id_;
    packet.queue = queue_id_;
  }

  struct MemifCounters {
    net::QueueCounters::Counter bad_descriptors, bad_indices, incomplete_chains, tx_link_down;
    net::QueueCounters::Counter tx_lost_on_disconnect, tx_longer_than_ring;
    net::QueueCounters::Counter tx_foreign_copies, tx_foreign_frees;
  };

  mem::Mempool& pool_;
  mem::MempoolCache cache_;
  MemifCounters memif_counters_;
  PeerNotifier* const notifier_;
  const std::uint16_t port_id_;
  const std::uint16_t queue_id_;
  const bool interrupt_mode_;
  const net::RxClock& rx_clock_ = net::RxClock::process();
  int interrupt_fd_ = -1;  // the port's, see set_interrupt_fd

 private:
  // Written by the control thread, read by the worker at every burst.
  alignas(64) std::atomic<std::uint64_t> requested_epoch_{0};
  std::atomic<const QueueBinding*> requested_{nullptr};
  // Written by the worker, read by the control thread.
  alignas(64) std::atomic<std::uint64_t> acknowledged_epoch_{0};
  const QueueBinding* current_ = nullptr;  // the worker's
  std::uint64_t seen_epoch_ = 0;           // the worker's
};

}  // namespace aether::backends::memif
