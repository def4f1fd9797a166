// LegacyQueue set-up and tear-down: filling the receive ring and
// programming both rings (../shared/specs/e1000e-82574.md, "Minimal
// bring-up"). The data path is in rx.cpp and tx.cpp.
#include <fmt/format.h>

#include <cstring>

#include "aether/drivers/e1000e/legacy_queue.hpp"
#include "aether/drivers/mmio.hpp"

namespace aether::drivers::e1000e {

using mmio::read32;
using mmio::write32;

Result<void> LegacyQueue::validate_size(std::uint16_t size, const std::string& device_name) {
  if (size < kMinSize || size > kMaxSize || (size & (size - 1)) != 0) {
    return invalid_argument(fmt::format("{}: queue size {} is not a power of two from {} to {} (RDLEN and TDLEN take "
                                        "multiples of 8 descriptors)",
                                        device_name, size, kMinSize, kMaxSize));
  }
  return {};
}

LegacyQueue::LegacyQueue(volatile std::byte* bar0, RingMemory rings, mem::Mempool& pool, const QueueConfig& config,
                         DeviceHealth& health)
    : bar0_(bar0),
      rings_(rings),
      pool_(pool),
      cache_(pool),
      health_(health),
      // Unsigned arithmetic: CPU address + offset wraps to the IOVA whichever
      // of the two is larger.
      iova_offset_(config.pool_iova - reinterpret_cast<std::uintptr_t>(pool.region().base())),
      mask_(config.size - 1U),
      port_id_(config.port_id),
      interrupt_fd_(config.interrupt_fd),
      clock_(config.clock),
      clean_batch_(config.size / 2U < kTxCleanBatch ? config.size / 2U : kTxCleanBatch),
      rx_packets_(new net::Packet*[config.size]()),
      tx_packets_(new net::Packet*[config.size]()) {}

Result<std::unique_ptr<LegacyQueue>> LegacyQueue::start(volatile std::byte* bar0, RingMemory rings, mem::Mempool& pool,
                                                        QueueConfig config, DeviceHealth& health) {
  if (auto valid = validate_size(config.size, config.device_name); !valid) return std::move(valid).error();
  if (pool.data_room() < rctl::buffer_size_2048) {
    return invalid_argument(fmt::format(
        "{}: pool '{}' holds {} bytes of data per buffer, less than the {} the device may write into each receive "
        "buffer (RCTL.BSIZE); create the pool with data_room >= {}",
        config.device_name, pool.name(), pool.data_room(), rctl::buffer_size_2048, rctl::buffer_size_2048));
  }
  if (pool.available() < config.size) {
    return invalid_argument(fmt::format(
        "{}: pool '{}' has {} free buffers; the receive ring needs {} (one per descriptor) and the application more "
        "for the packets it holds: give the pool more buffers or the port a smaller queue_size",
        config.device_name, pool.name(), pool.available(), config.size));
  }
  std::unique_ptr<LegacyQueue> queue(new LegacyQueue(bar0, rings, pool, config, health));
  const std::uint32_t size = config.size;
  // The destructor frees what was taken if this falls short.
  const unsigned filled = pool.alloc_bulk(std::span(queue->rx_packets_.get(), size));
  if (filled < size) {
    return invalid_argument(fmt::format("{}: pool '{}' gave {} of the {} receive buffers (another thread took the "
                                        "rest meanwhile)",
                                        config.device_name, pool.name(), filled, size));
  }
  for (std::uint32_t slot = 0; slot < size; ++slot) queue->post_rx(slot, queue->rx_packets_[slot]);
  std::memset(static_cast<void*>(rings.tx_ring), 0, size * sizeof(LegacyTxDesc));

  // Legacy receive descriptors: RFCTL.EXTEN clear, RCTL.DTYP 00.
  write32(bar0, reg::receive_filter_control,
          read32(bar0, reg::receive_filter_control) & ~rfctl::extended_status);
  // No multicast groups. A reset does not define the table's contents (the
  // Linux driver clears it after every reset too).
  for (std::size_t i = 0; i < 128; ++i) write32(bar0, reg::multicast_table + 4 * i, 0);

  write32(bar0, reg::rdbal, static_cast<std::uint32_t>(rings.rx_ring_iova));
  write32(bar0, reg::rdbah, static_cast<std::uint32_t>(rings.rx_ring_iova >> 32));
  write32(bar0, reg::rdlen, size * static_cast<std::uint32_t>(sizeof(LegacyRxDesc)));
  write32(bar0, reg::rdh, 0);
  // Every descriptor but the one at RDT belongs to the device; rx_next_ = 0
  // is one past RDT (the gap, see the header).
  write32(bar0, reg::rdt, size - 1);

  write32(bar0, reg::tdbal, static_cast<std::uint32_t>(rings.tx_ring_iova));
  write32(bar0, reg::tdbah, static_cast<std::uint32_t>(rings.tx_ring_iova >> 32));
  write32(bar0, reg::tdlen, size * static_cast<std::uint32_t>(sizeof(LegacyTxDesc)));
  write32(bar0, reg::tdh, 0);
  write32(bar0, reg::tdt, 0);

  // Broadcast accepted (ARP), CRC stripped so descriptor lengths are frame
  // lengths, BSIZE 00 / BSEX 0 = 2048-byte buffers, no long packets (LPE
  // clear: frames over 1522 bytes are dropped by the device, never split).
  write32(bar0, reg::rctl, rctl::enable | rctl::broadcast_accept | rctl::strip_crc);
  write32(bar0, reg::tipg, tipg_default);
  write32(bar0, reg::tctl,
          tctl::enable | tctl::pad_short_packets | tctl::collision_threshold | tctl::collision_distance);
  if (config.interrupt_fd >= 0) {
    // RXQ0 -> MSI-X vector 0, auto-cleared from ICR (and masked) by its
    // message; still masked (IMC from the reset) until set_rx_interrupt.
    write32(bar0, reg::interrupt_vector_allocation, interrupt::ivar_valid | 0U);
    write32(bar0, reg::interrupt_auto_clear, interrupt::receive_queue0);
  }
  // Clear the missed-packet counter so the first reading counts only our
  // time (read to clear).
  (void)read32(bar0, reg::missed_packets);
  return queue;
}

std::size_t LegacyQueue::abandon_ring_buffers() noexcept {
  std::size_t abandoned = 0;
  for (std::size_t slot = 0; slot <= mask_; ++slot) {
    if (rx_packets_[slot] != nullptr) ++abandoned;
    rx_packets_[slot] = nullptr;
  }
  abandoned += tx_tail_ - tx_clean_;  // in flight
  tx_clean_ = tx_tail_;
  return abandoned;
}

LegacyQueue::~LegacyQueue() {
  // Receive buffers: every slot (nullptr ones are skipped by free_bulk).
  pool_.free_bulk(std::span<net::Packet* const>(rx_packets_.get(), mask_ + 1));
  // Transmit buffers not reaped yet.
  for (; tx_clean_ != tx_tail_; ++tx_clean_) {
    net::Packet* packet = tx_packets_[tx_clean_ & mask_];
    pool_.free_bulk(std::span<net::Packet* const>(&packet, 1));
  }
}

void LegacyQueue::post_rx(std::uint32_t slot, net::Packet* packet) noexcept {
  // Volatile stores: the device may read this descriptor as soon as the
  // next RDT write covers it; mmio::write32's compiler barrier keeps these
  // stores before that write. The upper half (length, checksum, status,
  // errors, special) goes to 0: DD clear marks the slot as not done.
  auto* words = reinterpret_cast<volatile std::uint64_t*>(&rings_.rx_ring[slot]);
  words[0] = iova_of_data(packet);
  words[1] = 0;
}

void LegacyQueue::set_rx_interrupt(bool enabled) noexcept {
  if (interrupt_fd_ < 0 || health_.faulted()) return;
  if (enabled) {
    write32(bar0_, reg::icr, interrupt::receive_queue0);  // write 1 to clear
    write32(bar0_, reg::ims, interrupt::receive_queue0);
  } else {
    write32(bar0_, reg::imc, interrupt::receive_queue0);
  }
}

void LegacyQueue::note_idle() noexcept {
  if (++idle_bursts_ < kIdleBurstsPerHealthCheck) return;
  idle_bursts_ = 0;
  if (health_.check()) return;
  // MPC: frames the device dropped because it had nowhere to put them (no
  // free receive descriptor and its packet buffer full). Read to clear, so
  // only this worker reads it; a queue that is never idle has its misses
  // counted once the traffic pauses.
  const std::uint32_t missed = read32(bar0_, reg::missed_packets);
  if (missed == 0xffffffff) {
    health_.record(DeviceFault::not_responding, missed);
    return;
  }
  counters_.rx_drop_kernel.add(missed);
}

}  // namespace aether::drivers::e1000e
