// LegacyQueue receive path (82574 datasheet 7.1; legacy descriptor
// layout in registers.hpp). noexcept, no allocation, no syscall: one RDT
// write per burst.
#include <atomic>

#include "aether/drivers/e1000e/legacy_queue.hpp"
#include "aether/drivers/mmio.hpp"

namespace aether::drivers::e1000e {

unsigned LegacyQueue::rx_burst(std::span<net::Packet*> packets) noexcept {
  if (health_.faulted()) return 0;  // one relaxed load; the device is looked at when idle
  const std::size_t wanted = packets.size() < kMaxBurst ? packets.size() : kMaxBurst;

  // Completed descriptors, in ring order from rx_next_. The scan stops at
  // the latest at the gap descriptor (RDT), whose DD we cleared and which
  // the device may not write.
  unsigned ready = 0;
  while (ready < wanted) {
    const volatile LegacyRxDesc& descriptor = rings_.rx_ring[(rx_next_ + ready) & mask_];
    if ((descriptor.status & descriptor_done) == 0) break;
    ++ready;
  }
  if (ready == 0) {
    note_idle();
    return 0;
  }
  // The device writes a descriptor back, with DD, after the frame's data
  // (PCIe posted writes stay in order; x86 DMA is cache coherent). Loads after the DD loads: x86 does not
  // reorder loads with loads, this keeps the compiler from doing it.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // The poll time, once per burst that found something (no syscall: the
  // port hands a clock only when it runs on the TSC).
  const std::uint64_t poll_ns = clock_ != nullptr ? clock_->to_ns(clock_->now()) : 0;

  // Replacements for the buffers handed over, in one pool operation.
  // Fewer than asked for: the frames without one are dropped (no_buffer)
  // and their buffers posted again.
  net::Packet* fresh[kMaxBurst];
  const unsigned fresh_count = pool_.alloc_bulk(std::span(fresh, ready), &cache_);
  unsigned fresh_used = 0;
  unsigned received = 0;
  std::uint64_t bytes = 0;
  unsigned bad_frames = 0;
  unsigned truncated = 0;
  unsigned no_buffer = 0;

  for (unsigned i = 0; i < ready; ++i) {
    const std::uint32_t slot = (rx_next_ + i) & mask_;
    const volatile LegacyRxDesc& descriptor = rings_.rx_ring[slot];
    const std::uint8_t status = descriptor.status;
    const std::uint8_t errors = descriptor.errors;
    const std::uint16_t length = descriptor.length;  // without the FCS: RCTL.SECRC
    net::Packet* packet = rx_packets_[slot];
    // The next packet's metadata is written one iteration from now: start
    // loading its line.
    if (i + 1 < ready) __builtin_prefetch(rx_packets_[(slot + 1) & mask_], 1);
    if (rx_discarding_) {
      // The rest of a frame that did not fit one buffer: counted at its
      // first descriptor, recycled up to and including its EOP.
      if ((status & rx_status_end_of_packet) != 0) rx_discarding_ = false;
    } else if ((status & rx_status_end_of_packet) == 0) {
      // The frame continues in the next descriptor: longer than the
      // 2048-byte buffer (should not happen with RCTL.LPE clear).
      ++truncated;
      rx_discarding_ = true;
    } else if ((errors & rx_errors_frame) != 0 || length == 0 || length > rctl::buffer_size_2048) {
      ++bad_frames;
    } else if (fresh_used == fresh_count) {
      ++no_buffer;
    } else {
      packet->data_length = length;
      packet->packet_length = length;
      packet->port = port_id_;
      packet->queue = 0;
      packet->timestamp = poll_ns;
      packets[received++] = packet;
      bytes += length;
      packet = fresh[fresh_used++];
      rx_packets_[slot] = packet;
    }
    post_rx(slot, packet);
  }
  if (fresh_used < fresh_count) pool_.free_bulk(std::span<net::Packet* const>(fresh + fresh_used, fresh_count - fresh_used), &cache_);

  rx_next_ = (rx_next_ + ready) & mask_;
  // The doorbell: the descriptors just posted before rx_next_ - 1 go back
  // to the device; rx_next_ - 1 itself stays the gap.
  mmio::write32(bar0_, reg::rdt, (rx_next_ - 1) & mask_);

  counters_.rx_packets.add(received);
  counters_.rx_bytes.add(bytes);
  if (bad_frames != 0) counters_.rx_drop_bad_frame.add(bad_frames);
  if (truncated != 0) counters_.rx_drop_truncated.add(truncated);
  if (no_buffer != 0) counters_.rx_drop_no_buffer.add(no_buffer);
  return received;
}

}  // namespace aether::drivers::e1000e
