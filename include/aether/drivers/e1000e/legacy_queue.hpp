// LegacyQueue: the 82574's receive queue 0 and transmit queue 0 as one
// net::Queue, with legacy descriptors (16 bytes each; 82574 datasheet 7.1
// receive and 7.2 transmit; ../shared/specs/e1000e-82574.md).
//
// Receive: every descriptor always holds a pool buffer, posted so the frame
// lands at Packet::data(). The device owns descriptors from RDH up to
// RDT - 1; the driver keeps RDT one behind the next descriptor it will
// look at, so the device never writes into a descriptor the driver is
// still reading (the one-slot gap of ixy and DPDK). A completed descriptor
// (DD) is handed over and replaced by a fresh buffer; when the frame is
// bad or no fresh buffer is there, its buffer is posted again instead and
// the frame counted as a drop: the ring never runs dry because of us.
// One RDT write per burst.
//
// Transmit: one descriptor per packet with EOP | IFCS | RS; the device
// sets DD when it is done with the buffer. Cleanup goes by batches, as
// ixy's: tx_burst (an empty one only reaps) reads the DD of the last
// descriptor of each batch of clean_batch() in flight and, descriptors
// completing in order, frees the whole batch in one pool operation; fewer
// than a batch in flight are freed together once the last of them is done.
// One descriptor read per batch instead of per packet; the price is up to a
// batch of sent buffers held a little longer. One TDT write per burst. A
// full ring takes fewer packets.
//
// Buffers: every allocation and free of a burst goes through the queue's
// MempoolCache (the pool's default cache size), so the pool's shared ring
// is touched in bulk only when the cache runs empty or full.
//
// Interrupt mode (QueueConfig::interrupt_fd): IVAR sends receive queue
// 0's cause (RXQ0) to MSI-X vector 0 and EIAC clears it from ICR with each
// message, which also masks it again (CTRL_EXT.IAME clear): one interrupt
// per set_rx_interrupt(true), the one-shot a sleeping worker wants.
//
// Device faults (DeviceHealth): off the busy path. A receive burst that
// finds nothing counts as idle; every kIdleBurstsPerHealthCheck idle bursts
// the queue reads RCTL, TCTL and the missed-packet counter (three MMIO
// reads, ~1 us each on real hardware, which a busy queue never pays: a
// device reset underneath stops its traffic, so the idle check finds it).
// The port's device_fault() checks too, from any thread. Once found, both
// bursts return 0 and no register or descriptor is touched again.
//
// Threading: one worker drives the queue (net::Queue); the stats may be
// read anywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "aether/core/clock.hpp"
#include "aether/core/result.hpp"
#include "aether/drivers/e1000e/device_health.hpp"
#include "aether/drivers/e1000e/registers.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/mem/mempool_cache.hpp"
#include "aether/net/port.hpp"

namespace aether::drivers::e1000e {

// Where the two rings are, for the CPU and for the device: DMA-mapped,
// 128-byte aligned at least (RDBAL/TDBAL; the port page-aligns them).
struct RingMemory {
  LegacyRxDesc* rx_ring = nullptr;
  std::uint64_t rx_ring_iova = 0;
  LegacyTxDesc* tx_ring = nullptr;
  std::uint64_t tx_ring_iova = 0;
};

struct QueueConfig {
  // Descriptors per ring: a power of two from 8 to 4096 (RDLEN/TDLEN must
  // be multiples of 128 bytes, i.e. of 8 descriptors; 4096 is the most the
  // Linux driver uses).
  std::uint16_t size = 256;
  std::uint16_t port_id = 0;  // stamped into Packet::port on receive
  // The IOVA at which pool.region().base() is mapped for this device.
  std::uint64_t pool_iova = 0;
  std::string device_name;  // the BDF, for messages
  // Interrupt mode: the eventfd MSI-X vector 0 signals (the port routes it
  // through VFIO); receive queue 0's cause goes to vector 0. -1: poll only.
  int interrupt_fd = -1;
  // Receive timestamps: the poll time, read once per burst that found
  // frames, in this clock's nanoseconds (net::RxTimestampSource::poll_time).
  // nullptr: Packet::timestamp stays 0. Must outlive the queue.
  const aether::Clock* clock = nullptr;
};

class LegacyQueue final : public net::Queue {
 public:
  static constexpr std::uint16_t kMinSize = 8;
  static constexpr std::uint16_t kMaxSize = 4096;
  // At most this many packets per burst (stack arrays on the data path).
  static constexpr unsigned kMaxBurst = 64;
  // Receive bursts that found nothing between two looks at the device:
  // RCTL, TCTL and MPC, three MMIO reads (virtio-net's NetQueue waits as long).
  static constexpr unsigned kIdleBurstsPerHealthCheck = 1024;
  // Transmit descriptors cleaned per DD read at most (ixy's TX_CLEAN_BATCH).
  static constexpr unsigned kTxCleanBatch = 32;

  // Errors name the device and the bad value: size not a power of two in
  // [8, 4096].
  [[nodiscard]] static Result<void> validate_size(std::uint16_t size, const std::string& device_name);

  // Fills the receive ring with `config.size` buffers from `pool`, programs
  // both rings (RDBAL/RDBAH/RDLEN/RDH/RDT, TDBAL/...), then RCTL (EN, BAM,
  // SECRC, 2048-byte buffers, legacy descriptors) and TCTL/TIPG, which
  // starts the device's DMA. Errors: a bad size, a pool whose data room
  // is under 2048 bytes (the device writes up to RCTL.BSIZE bytes), or one
  // with fewer than `config.size` free buffers.
  [[nodiscard]] static Result<std::unique_ptr<LegacyQueue>> start(volatile std::byte* bar0, RingMemory rings,
                                                                 mem::Mempool& pool, QueueConfig config,
                                                                 DeviceHealth& health);

  // Returns every buffer still in either ring to the pool. The device must
  // have stopped its DMA first (the port resets it).
  ~LegacyQueue() override;  // every buffer the rings still hold goes back to the pool

  // Teardown when the pool's DMA mapping could not be removed
  // (vfio::unmap_for_teardown): the device may still write the buffers the
  // rings hold, so they are forgotten, never returned to the pool (which is
  // short by that many). Returns how many.
  std::size_t abandon_ring_buffers() noexcept;
  LegacyQueue(const LegacyQueue&) = delete;
  LegacyQueue& operator=(const LegacyQueue&) = delete;

  unsigned rx_burst(std::span<net::Packet*> packets) noexcept override;
  unsigned tx_burst(std::span<net::Packet*> packets) noexcept override;
  [[nodiscard]] int rx_interrupt_fd() const noexcept override { return interrupt_fd_; }
  // Unmasks (IMS) or masks (IMC) RXQ0; unmasking first clears a stale
  // RXQ0 in ICR so that only frames from now on raise the interrupt (the
  // caller polls once more after enabling). One MMIO write or two; nothing
  // once the device is faulted.
  void set_rx_interrupt(bool enabled) noexcept override;

  [[nodiscard]] std::uint16_t size() const noexcept { return static_cast<std::uint16_t>(mask_ + 1); }
  // Packets handed to the device and not reaped yet.
  [[nodiscard]] unsigned tx_in_flight() const noexcept { return tx_tail_ - tx_clean_; }
  // Transmit descriptors freed per cleanup step: kTxCleanBatch, or half the
  // ring when that is smaller (so a full ring always has a batch to clean).
  [[nodiscard]] unsigned clean_batch() const noexcept { return clean_batch_; }
  // Frames of another pool copied into one of ours before sending (the
  // device reaches only our pool; 0 when the ports share one). Any thread.
  [[nodiscard]] std::uint64_t tx_foreign_copies() const noexcept { return foreign_copies_.get(); }

 private:
  LegacyQueue(volatile std::byte* bar0, RingMemory rings, mem::Mempool& pool, const QueueConfig& config,
              DeviceHealth& health);

  // The device's address of a packet's data().
  [[nodiscard]] std::uint64_t iova_of_data(net::Packet* packet) const noexcept {
    return reinterpret_cast<std::uintptr_t>(packet->data()) + iova_offset_;
  }
  // Gives descriptor `slot` (back) to the device with `packet`'s buffer.
  void post_rx(std::uint32_t slot, net::Packet* packet) noexcept;
  // Returns completed transmit buffers to the pool, a batch at a time.
  void reap_tx() noexcept;
  // After an idle receive burst: every kIdleBurstsPerHealthCheck of them,
  // the device fault check and MPC.
  void note_idle() noexcept;

  volatile std::byte* bar0_;
  RingMemory rings_;
  mem::Mempool& pool_;
  mem::MempoolCache cache_;  // the worker's: every burst allocates and frees through it
  DeviceHealth& health_;
  std::uint64_t iova_offset_;  // device address = CPU address + this (unsigned wrap-around)
  std::uint32_t mask_;         // size - 1
  std::uint16_t port_id_;
  int interrupt_fd_;
  const aether::Clock* clock_;
  unsigned clean_batch_;
  net::QueueCounters::Counter foreign_copies_;
  unsigned idle_bursts_ = 0;

  // Receive: the packet whose buffer each descriptor holds; the next
  // descriptor to look at; whether the rest of a multi-descriptor frame is
  // being discarded.
  std::unique_ptr<net::Packet*[]> rx_packets_;
  std::uint32_t rx_next_ = 0;
  bool rx_discarding_ = false;

  // Transmit: free-running counters (slot = counter & mask_): descriptors
  // filled (the next TDT) and reaped. tx_tail_ - tx_clean_ are in flight,
  // at most size - 1 (a full ring would look empty: TDH == TDT).
  std::unique_ptr<net::Packet*[]> tx_packets_;
  std::uint32_t tx_tail_ = 0;
  std::uint32_t tx_clean_ = 0;
};

}  // namespace aether::drivers::e1000e
