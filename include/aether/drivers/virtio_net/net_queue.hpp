// NetQueue: receiveq1 + transmitq1 of a virtio-net device (virtio 1.2,
// 5.1.2) as one net::Queue. The data path of the virtio-net port; bring-up
// and teardown are the port's (net_port.cpp).
//
// Buffers are the pool's packets, DMA-mapped as a whole at `pool_iova`:
//   receive  each receive descriptor points 12 bytes before a free
//            packet's data(), in its headroom, so the virtio_net_hdr
//            (5.1.6) lands there and the frame at data(). Descriptor slot i
//            holds one packet; a used slot is refilled with a fresh packet
//            and the received one handed over. With no fresh packet the
//            frame is dropped (rx_drop_no_buffer) and its buffer reposted:
//            the ring never runs dry. Frames shorter than an Ethernet header
//            count rx_drop_bad_frame, a length beyond the posted buffer
//            rx_drop_truncated.
//   transmit the zeroed 12-byte header is prepended into the headroom and
//            one descriptor covers header + frame. Completed buffers are
//            freed back to the pool on the next tx_burst (an empty one
//            only reaps). A full ring takes fewer packets (the rest stays
//            the caller's). Chained, runt (< 14 bytes) or oversized frames
//            are taken and counted tx_drop_bad_frame. Packets of another
//            pool (aether fwd) are copied into one of ours first: the
//            device can reach only our pool.
// Doorbells are MMIO writes, made once per burst and only when the device
// has not set VIRTQ_USED_F_NO_NOTIFY. No syscall, no allocation, no lock.
//
// Device faults: every fault_check_interval bursts that found nothing to
// do, the queue reads device_status (one MMIO read). A status without
// DRIVER_OK (the device was reset underneath us), with DEVICE_NEEDS_RESET
// or FAILED, or all-ones (gone) stops the queue: from then on both bursts
// return 0 and the rings are not touched. fault_status() says what it saw.
// A used ring whose index claims more buffers than the device holds
// (SplitQueue::used_index_overrun) stops the queue the same way, with
// fault code used_index_overrun_fault: the driver no longer trusts it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "aether/core/clock.hpp"
#include "aether/core/result.hpp"
#include "aether/drivers/virtio_net/registers.hpp"
#include "aether/drivers/virtio_net/split_queue.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/mem/mempool_cache.hpp"
#include "aether/net/port.hpp"

namespace aether::drivers::virtio_net {

inline constexpr std::uint16_t receive_queue_index = 0;   // receiveq1 (5.1.2)
inline constexpr std::uint16_t transmit_queue_index = 1;  // transmitq1
inline constexpr std::uint16_t net_header_size = sizeof(VirtioNetHeader);

// Where the queue reaches the device: registers inside mapped BARs (in unit
// tests, ordinary memory playing the device).
struct DeviceWindows {
  volatile std::byte* common_config = nullptr;    // device_status, for fault checks
  volatile std::byte* receive_notify = nullptr;   // receiveq1's 16-bit doorbell (4.1.4.4)
  volatile std::byte* transmit_notify = nullptr;  // transmitq1's
};

struct NetQueueConfig {
  std::uint16_t size = 256;        // entries per ring, a power of two
  std::uint16_t port_id = 0;       // stamped into Packet::port on rx
  std::uint16_t queue_id = 0;      // stamped into Packet::queue on rx
  std::uint64_t ring_iova = 0;     // where ring_memory is mapped: receive ring, then transmit ring
  std::uint64_t pool_iova = 0;     // where pool.region() is mapped
  std::uint32_t max_frame = 1518;  // longest frame tx_burst sends (MTU + 14 + one VLAN tag)
  int rx_interrupt_fd = -1;        // interrupt mode: the eventfd of receiveq1's MSI-X vector
  // Receive timestamps: the poll time, read once per burst that found
  // frames, in this clock's nanoseconds (net::RxTimestampSource::poll_time).
  // nullptr: Packet::timestamp stays 0. Must outlive the queue.
  const aether::Clock* clock = nullptr;
};

// Where each virtqueue's rings start in the ring memory: one queue per
// 4 KiB page run, never two sharing a page. Why: with the rings packed
// (transmitq1 right after receiveq1), transmitq1's used ring straddled a
// page boundary, and with QEMU 7.2's vIOMMU the guest kernel logged
// "DMA Write ... fault addr 0x0" about once per lap of the transmit ring:
// as far as the evidence shows, the used element across the boundary went
// partly to IOVA 0 (faults in page 0 only, one per lap, gone with this
// layout; docs/vfio.md). Page-aligned, a used ring of up to 511 entries sits in
// one page, as Linux's own driver lays it out. Larger rings span pages
// whatever the layout (elements start 4 bytes into the ring).
inline constexpr std::size_t ring_page_size = 4096;
[[nodiscard]] constexpr std::size_t queue_ring_stride(std::uint16_t size) noexcept {
  return (layout_for(size).total + ring_page_size - 1) & ~(ring_page_size - 1);
}

// Bytes of DMA memory the two rings of a queue pair of `size` entries need.
[[nodiscard]] constexpr std::size_t ring_memory_bytes(std::uint16_t size) noexcept {
  return 2 * queue_ring_stride(size);
}

class NetQueue final : public net::Queue {
 public:
  // Reads of a burst that found nothing, between two device_status reads.
  static constexpr std::uint32_t fault_check_interval = 1024;

  // `ring_memory`: ring_memory_bytes(config.size) zeroed bytes mapped at
  // config.ring_iova, page aligned; receiveq1's rings at its start,
  // transmitq1's queue_ring_stride(size) bytes in. The pool, memory and windows must outlive the queue.
  NetQueue(mem::Mempool& pool, std::byte* ring_memory, const DeviceWindows& windows, const NetQueueConfig& config);
  ~NetQueue() override;
  NetQueue(const NetQueue&) = delete;
  NetQueue& operator=(const NetQueue&) = delete;

  [[nodiscard]] const SplitQueue& receive_ring() const noexcept { return receive_; }
  [[nodiscard]] const SplitQueue& transmit_ring() const noexcept { return transmit_; }

  // Control path, before DRIVER_OK (3.1.1 step 7): a packet in every
  // receive descriptor, published, no doorbell yet. Errors when the pool
  // has fewer free buffers than the ring has entries, or too little
  // headroom for the 12-byte header.
  [[nodiscard]] Result<void> post_receive_buffers();
  // After DRIVER_OK: the first doorbell (the driver MUST NOT notify before,
  // 3.1.1).
  void start() noexcept;
  // Teardown, after the device was reset and the pool's DMA mapping is gone
  // (vfio::unmap_for_teardown): every packet the rings still hold goes back
  // to the pool. Call at most once.
  void release_ring_buffers() noexcept;
  // Teardown when the pool's mapping could not be removed: the device may
  // still write the packets the rings hold, so they are forgotten, never
  // reused (the pool is short by that many). Returns how many.
  std::size_t abandon_ring_buffers() noexcept;

  unsigned rx_burst(std::span<net::Packet*> packets) noexcept override;
  unsigned tx_burst(std::span<net::Packet*> packets) noexcept override;

  // Interrupt mode: receiveq1's MSI-X eventfd, and VIRTQ_AVAIL_F_NO_INTERRUPT
  // cleared (on) or set (off). Without EVENT_IDX the flag is a hint the
  // device may ignore (2.7.7), so a spurious wake-up is possible, a lost
  // one is not: enabling fences before the caller's next rx_burst looks.
  [[nodiscard]] int rx_interrupt_fd() const noexcept override { return rx_interrupt_fd_; }
  void set_rx_interrupt(bool enabled) noexcept override;

  // The fault code of a queue stopped because the device's used->idx ran
  // ahead of what it held; other codes are device_status values (0..255).
  static constexpr int used_index_overrun_fault = 0x100;

  // Reads device_status now and stops the queue if it shows a fault (see
  // above). Returns the fault code that stopped the queue, now or earlier:
  // a device_status value or used_index_overrun_fault. Any thread: one
  // MMIO read, one atomic store.
  std::optional<int> check_device() noexcept;
  // The fault code that stopped the queue, if any (no device access).
  [[nodiscard]] std::optional<int> fault_status() const noexcept;
  [[nodiscard]] bool stopped() const noexcept { return fault_.load(std::memory_order_relaxed) >= 0; }

  // Used elements whose id named no buffer we gave the device (a device
  // bug; counted, skipped). Any thread.
  [[nodiscard]] std::uint64_t invalid_used_elements() const noexcept { return invalid_used_.get(); }
  // Frames of another pool copied into one of ours before sending (the
  // device reaches only our pool; 0 when the ports share one). Any thread.
  [[nodiscard]] std::uint64_t tx_foreign_copies() const noexcept { return foreign_copies_.get(); }

  // True for a device_status value that means the queue must stop.
  [[nodiscard]] static bool is_fault(std::uint8_t status) noexcept;

 private:
  // net_rx.cpp
  void post_receive(std::uint16_t slot, net::Packet* packet) noexcept;
  [[nodiscard]] net::Packet* take_spare() noexcept;
  // net_tx.cpp
  void reap_transmitted() noexcept;
  [[nodiscard]] net::Packet* copy_foreign(net::Packet* packet) noexcept;
  // net_queue.cpp
  void note_idle() noexcept;
  // Stops the queue if a ring's used index overran (see SplitQueue).
  void check_used_index(const SplitQueue& ring) noexcept;
  void notify(volatile std::byte* doorbell, std::uint16_t queue_index) noexcept;
  [[nodiscard]] std::uint64_t iova_of(const std::byte* address) const noexcept {
    return pool_iova_ + static_cast<std::uint64_t>(address - pool_base_);
  }

  static constexpr unsigned spare_batch = 32;

  mem::Mempool& pool_;
  mem::MempoolCache cache_;
  const std::byte* pool_base_;
  std::uint64_t pool_iova_;
  DeviceWindows windows_;
  std::uint16_t size_;
  std::uint16_t port_id_;
  std::uint16_t queue_id_;
  std::uint32_t max_frame_;
  int rx_interrupt_fd_;
  const aether::Clock* clock_;
  SplitQueue receive_;
  SplitQueue transmit_;
  // Descriptor slot -> the packet the device holds in it (nullptr: none).
  std::unique_ptr<net::Packet*[]> receive_slots_;
  std::unique_ptr<net::Packet*[]> transmit_slots_;
  // Free transmit slots, a stack.
  std::unique_ptr<std::uint16_t[]> free_transmit_slots_;
  std::uint16_t free_transmit_count_ = 0;
  // Fresh buffers for receive refills, taken from the pool in batches.
  net::Packet* spares_[spare_batch] = {};
  unsigned spare_count_ = 0;
  std::uint32_t idle_bursts_ = 0;
  net::QueueCounters::Counter invalid_used_;
  net::QueueCounters::Counter foreign_copies_;
  // -1: running; otherwise the fault code that stopped the queue.
  // Written by the worker or by a control thread asking, read by both;
  // relaxed: it carries no other data, and a burst that starts just before
  // the store only touches rings the device no longer reads.
  std::atomic<int> fault_{-1};
};

}  // namespace aether::drivers::virtio_net
