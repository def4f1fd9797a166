// MemifQueue: what every memif queue pair shares whatever its role: the
// binding to the current connection's rings, the hand-over of that binding
// between the control thread and the data path, the counters, and waking a
// peer that asked for interrupts.
//
// The data-path variants (server_queue.hpp, client_queue.hpp) are chosen
// once, when the port opens: one virtual call per burst, no role branch in
// the packet loop.
//
// Hand-over (the control thread must never unmap rings a burst is reading):
//   data path, per burst:   busy = true (seq_cst); b = binding (seq_cst);
//                           ... use b ...; busy = false (release)
//   control, on disconnect: binding = nullptr (seq_cst); spin until !busy
// Both sides store, then load the other's variable, all seq_cst: in the
// single total order, either the burst's load of `binding` comes after the
// control's store (it sees nullptr) or the control's load of `busy` comes
// after the burst's store (it waits). This is Dekker's pattern; the cost is
// one locked store (xchg on x86) per burst, never per packet.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>

#include "aether/backends/memif_port.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/mem/mempool_cache.hpp"
#include "aether/net/port.hpp"
#include "region_table.hpp"
#include "ring.hpp"

namespace aether::backends::memif {

// One queue pair's view of one connection. Built by the connection (or a
// test), published to the queue with attach(), valid until detach().
struct QueueBinding {
  RingView rx_ring;  // client: S2C ring i, server: C2S ring i; !valid() if the peer has none
  RingView tx_ring;  // client: C2S ring i, server: S2C ring i
  const RegionTable* regions = nullptr;
  int tx_event_fd = -1;  // written after a publication when the peer's ring lacks MASK_INT
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
  MemifQueue(mem::Mempool& pool, std::uint16_t port_id, std::uint16_t queue_id, bool interrupt_mode)
      : pool_(pool), cache_(pool), port_id_(port_id), queue_id_(queue_id), interrupt_mode_(interrupt_mode) {}
  ~MemifQueue() override = default;  // precondition: detached
  MemifQueue(const MemifQueue&) = delete;
  MemifQueue& operator=(const MemifQueue&) = delete;

  // Control thread. Resets this side's indices and cursors, prepares the
  // variant's state and publishes the binding. Precondition: detached, and
  // the binding outlives the attachment.
  void attach(const QueueBinding& binding) {
    prepare(binding);
    binding_.store(&binding, std::memory_order_seq_cst);
  }

  // Control thread. Withdraws the binding, waits for a running burst to
  // finish, then lets the variant reclaim what it lent the peer. After it
  // returns, nothing of this queue touches the rings or regions.
  void detach() noexcept {
    const QueueBinding* binding = binding_.exchange(nullptr, std::memory_order_seq_cst);
    while (busy_.load(std::memory_order_seq_cst)) std::this_thread::yield();
    if (binding != nullptr) release(*binding);
  }

  [[nodiscard]] bool attached() const noexcept { return binding_.load(std::memory_order_acquire) != nullptr; }

  [[nodiscard]] MemifQueueCounters memif_stats() const noexcept {
    MemifQueueCounters s;
    s.bad_descriptors = memif_counters_.bad_descriptors.get();
    s.bad_indices = memif_counters_.bad_indices.get();
    s.incomplete_chains = memif_counters_.incomplete_chains.get();
    s.tx_link_down = memif_counters_.tx_link_down.get();
    s.tx_lost_on_disconnect = memif_counters_.tx_lost_on_disconnect.get();
    s.interrupts_sent = memif_counters_.interrupts_sent.get();
    return s;
  }

  [[nodiscard]] bool interrupt_mode() const noexcept { return interrupt_mode_; }

  // The queue's thread: returns the buffers its cache holds to the pool
  // (an idle worker hands them back for others; tests count them).
  void flush_cache() noexcept { cache_.flush(); }

 protected:
  // Marks a burst; binding() is the connection to use, or nullptr.
  class BurstGuard {
   public:
    explicit BurstGuard(MemifQueue& queue) noexcept : queue_(queue) {
      queue_.busy_.store(true, std::memory_order_seq_cst);
      binding_ = queue_.binding_.load(std::memory_order_seq_cst);
    }
    ~BurstGuard() { queue_.busy_.store(false, std::memory_order_release); }
    BurstGuard(const BurstGuard&) = delete;
    BurstGuard& operator=(const BurstGuard&) = delete;
    [[nodiscard]] const QueueBinding* binding() const noexcept { return binding_; }

   private:
    MemifQueue& queue_;
    const QueueBinding* binding_ = nullptr;
  };

  // Control thread, before the binding is published / after it was withdrawn.
  virtual void prepare(const QueueBinding& binding) = 0;
  virtual void release(const QueueBinding& binding) noexcept = 0;

  // The MASK_INT value this side writes into the rings it receives on.
  [[nodiscard]] std::uint16_t receive_ring_flags() const noexcept {
    return interrupt_mode_ ? 0 : kRingFlagMaskInterrupt;
  }

  // No connection or no ring: a NIC with its link down drops what it is
  // given; so does this queue, counting it (the caller's packets are taken).
  unsigned drop_while_down(std::span<mem::Packet*> packets) noexcept {
    if (packets.empty()) return 0;
    pool_.free_bulk(packets, &cache_);
    counters_.tx_drop_error.add(packets.size());
    memif_counters_.tx_link_down.add(packets.size());
    return static_cast<unsigned>(packets.size());
  }

  // After a publication: one eventfd write if the receiver did not mask
  // interrupts (DPDK eth_memif_tx). The only syscall of the data path, and
  // only when the peer asked for it.
  void notify_peer(const QueueBinding& binding, const RingView& ring) noexcept {
    if ((ring.load_flags() & kRingFlagMaskInterrupt) != 0 || binding.tx_event_fd < 0) return;
    const std::uint64_t one = 1;
    if (::write(binding.tx_event_fd, &one, sizeof(one)) == sizeof(one)) memif_counters_.interrupts_sent.add(1);
  }

  // Packet metadata for a received segment chain's first segment.
  void stamp(mem::Packet& packet) const noexcept {
    packet.port = port_id_;
    packet.queue = queue_id_;
  }

  struct MemifCounters {
    net::QueueCounters::Counter bad_descriptors, bad_indices, incomplete_chains, tx_link_down, interrupts_sent;
    net::QueueCounters::Counter tx_lost_on_disconnect;  // written by the control thread only
  };

  mem::Mempool& pool_;
  mem::MempoolCache cache_;
  MemifCounters memif_counters_;
  const std::uint16_t port_id_;
  const std::uint16_t queue_id_;
  const bool interrupt_mode_;

 private:
  alignas(64) std::atomic<const QueueBinding*> binding_{nullptr};
  std::atomic<bool> busy_{false};
};

}  // namespace aether::backends::memif
