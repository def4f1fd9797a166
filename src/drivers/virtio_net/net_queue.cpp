// NetQueue: set-up, teardown and the device checks both bursts share.
#include "aether/drivers/virtio_net/net_queue.hpp"

#include <fmt/format.h>

#include "aether/drivers/mmio.hpp"

namespace aether::drivers::virtio_net {

NetQueue::NetQueue(mem::Mempool& pool, std::byte* ring_memory, const DeviceWindows& windows,
                   const NetQueueConfig& config)
    : pool_(pool),
      cache_(pool),
      pool_base_(pool.region().base()),
      pool_iova_(config.pool_iova),
      windows_(windows),
      size_(config.size),
      port_id_(config.port_id),
      queue_id_(config.queue_id),
      max_frame_(config.max_frame),
      rx_interrupt_fd_(config.rx_interrupt_fd),
      clock_(config.clock),
      receive_(ring_memory, config.ring_iova, config.size),
      transmit_(ring_memory + queue_ring_stride(config.size), config.ring_iova + queue_ring_stride(config.size),
                config.size),
      receive_slots_(new net::Packet*[config.size]()),
      transmit_slots_(new net::Packet*[config.size]()),
      free_transmit_slots_(new std::uint16_t[config.size]) {
  // Pop order 0, 1, 2...: slot numbers in the ring then follow the avail
  // positions while nothing is outstanding, which reads well in a dump.
  for (std::uint16_t slot = config.size; slot > 0; --slot) free_transmit_slots_[free_transmit_count_++] = slot - 1;
  // Poll mode unless the port turns interrupts on (interrupt mode).
  receive_.set_interrupt_suppression(true);
  transmit_.set_interrupt_suppression(true);
}

NetQueue::~NetQueue() {
  // The ring buffers are the port's to release (after the device reset);
  // the spares never reached the device.
  pool_.free_bulk(std::span<net::Packet* const>(spares_, spare_count_), &cache_);
  spare_count_ = 0;
}

Result<void> NetQueue::post_receive_buffers() {
  if (pool_.headroom() < net_header_size) {
    return invalid_argument(fmt::format("pool '{}' has {} bytes of headroom; the virtio-net header needs {} in front "
                                        "of every frame (use net::default_packet_pool_config)",
                                        pool_.name(), pool_.headroom(), net_header_size));
  }
  // 1514-byte frames plus the header must fit (5.1.6.3.1: without
  // MRG_RXBUF or GSO, buffers of at least 1526 bytes).
  if (pool_.data_room() < 1514) {
    return invalid_argument(fmt::format("pool '{}' has {} bytes of data room; virtio-net receive buffers need 1514",
                                        pool_.name(), pool_.data_room()));
  }
  for (std::uint16_t slot = 0; slot < size_; ++slot) {
    net::Packet* packet = take_spare();
    if (packet == nullptr) {
      return invalid_argument(fmt::format("pool '{}' ran out after {} of the {} receive buffers the ring needs; give "
                                          "the port a larger pool (aether echo --buffers) or a smaller queue_size",
                                          pool_.name(), slot, size_));
    }
    post_receive(slot, packet);
  }
  receive_.publish();
  return {};
}

void NetQueue::start() noexcept {
  notify(windows_.receive_notify, receive_queue_index);
}

void NetQueue::release_ring_buffers() noexcept {
  for (std::uint16_t slot = 0; slot < size_; ++slot) {
    for (net::Packet** held : {&receive_slots_[slot], &transmit_slots_[slot]}) {
      if (*held == nullptr) continue;
      pool_.free_bulk(std::span<net::Packet* const>(held, 1), &cache_);
      *held = nullptr;
    }
  }
}

std::size_t NetQueue::abandon_ring_buffers() noexcept {
  std::size_t abandoned = 0;
  for (std::uint16_t slot = 0; slot < size_; ++slot) {
    for (net::Packet** held : {&receive_slots_[slot], &transmit_slots_[slot]}) {
      if (*held == nullptr) continue;
      *held = nullptr;
      ++abandoned;
    }
  }
  return abandoned;
}

void NetQueue::set_rx_interrupt(bool enabled) noexcept {
  if (rx_interrupt_fd_ < 0 || stopped()) return;
  receive_.set_interrupt_suppression(!enabled);
}

bool NetQueue::is_fault(std::uint8_t status) noexcept {
  // All-ones: a read that no device answered (removed, or its link down).
  if (status == 0xff) return true;
  if ((status & (device_status::device_needs_reset | device_status::failed)) != 0) return true;
  // DRIVER_OK gone: reset underneath us (status 0), or bus mastering taken
  // away (QEMU then clears DRIVER_OK). Either way it no longer reads our rings.
  return (status & device_status::driver_ok) == 0;
}

std::optional<int> NetQueue::check_device() noexcept {
  if (auto known = fault_status()) return known;
  const std::uint8_t status = mmio::read8(windows_.common_config, common_cfg::device_status);
  if (!is_fault(status)) return std::nullopt;
  fault_.store(status, std::memory_order_relaxed);
  return status;
}

std::optional<int> NetQueue::fault_status() const noexcept {
  const int fault = fault_.load(std::memory_order_relaxed);
  if (fault < 0) return std::nullopt;
  return fault;
}

void NetQueue::check_used_index(const SplitQueue& ring) noexcept {
  if (ring.used_index_overrun()) {
    int running = -1;
    // Keeps a device_status fault seen first (compare_exchange: a control
    // thread may be storing one now).
    (void)fault_.compare_exchange_strong(running, used_index_overrun_fault, std::memory_order_relaxed);
  }
}

void NetQueue::note_idle() noexcept {
  if ((++idle_bursts_ & (fault_check_interval - 1)) == 0) (void)check_device();
}

void NetQueue::notify(volatile std::byte* doorbell, std::uint16_t queue_index) noexcept {
  // 4.1.4.4 / 4.1.5.2: without NOTIFICATION_DATA the driver writes the
  // 16-bit queue index to the queue's notification address.
  mmio::write16(doorbell, 0, queue_index);
}

}  // namespace aether::drivers::virtio_net
