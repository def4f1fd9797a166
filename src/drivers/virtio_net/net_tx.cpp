// virtio-net transmit: reaping completed buffers, header prepend, one
// doorbell per burst (see net_queue.hpp).
#include <cstring>

#include "aether/drivers/virtio_net/net_queue.hpp"

namespace aether::drivers::virtio_net {
namespace {

constexpr std::uint32_t ethernet_header = 14;  // IEEE 802.3: destination, source, EtherType
constexpr unsigned free_batch = 64;

}  // namespace

void NetQueue::reap_transmitted() noexcept {
  net::Packet* done[free_batch];
  unsigned count = 0;
  // used->idx once (peek), then every element it covers: the cleanup of a
  // whole batch of completions per tx_burst, freed in bulk.
  for (unsigned ready = transmit_.peek_used(); ready != 0; --ready) {
    const VirtqUsedElem element = transmit_.next_used();
    net::Packet* packet = element.id < size_ ? transmit_slots_[element.id] : nullptr;
    if (packet == nullptr) {
      invalid_used_.add(1);
      continue;
    }
    transmit_slots_[element.id] = nullptr;
    free_transmit_slots_[free_transmit_count_++] = static_cast<std::uint16_t>(element.id);
    done[count++] = packet;
    if (count == free_batch) {
      pool_.free_bulk(std::span<net::Packet* const>(done, count), &cache_);
      count = 0;
    }
  }
  if (count != 0) pool_.free_bulk(std::span<net::Packet* const>(done, count), &cache_);
  check_used_index(transmit_);
}

net::Packet* NetQueue::copy_foreign(net::Packet* packet) noexcept {
  net::Packet* copy = take_spare();
  if (copy == nullptr) return nullptr;
  // Our buffers hold the pool's data room (>= 2048) after the default
  // headroom; the caller checked length <= max_frame, far below.
  std::memcpy(copy->data(), packet->data(), packet->data_length);
  (void)copy->set_length(packet->data_length);
  copy->port = packet->port;
  copy->queue = packet->queue;
  // The original back to its own pool's shared ring (we hold no cache of
  // it): one ring operation per packet, only on this rare path.
  packet->pool->free_bulk(std::span<net::Packet* const>(&packet, 1));
  foreign_copies_.add(1);
  return copy;
}

unsigned NetQueue::tx_burst(std::span<net::Packet*> packets) noexcept {
  if (stopped()) return 0;
  const std::uint16_t free_before = free_transmit_count_;
  reap_transmitted();
  if (stopped()) return 0;  // the used ring overran: not to be trusted
  const bool reaped = free_transmit_count_ != free_before;

  unsigned taken = 0;
  unsigned queued = 0;
  std::uint64_t bytes = 0;
  std::uint64_t bad = 0;
  for (; taken < packets.size(); ++taken) {
    net::Packet* packet = packets[taken];
    const std::uint16_t length = packet->data_length;
    const bool own = packet->pool == &pool_;
    if (packet->next != nullptr || length < ethernet_header || length > max_frame_ ||
        (own && packet->data_offset < net_header_size)) {
      // Not sendable as one descriptor (no chains here) or no room for the
      // header: taken, dropped, counted.
      ++bad;
      packet->pool->free_bulk(std::span<net::Packet* const>(&packet, 1), own ? &cache_ : nullptr);
      continue;
    }
    if (free_transmit_count_ == 0) break;  // ring full: the rest stays the caller's
    if (!own && (packet = copy_foreign(packet)) == nullptr) break;  // no buffer of ours either
    std::byte* header = packet->prepend(net_header_size);  // cannot fail: headroom checked above / at open
    std::memset(header, 0, net_header_size);  // no offloads; num_buffers 0 on transmit (5.1.6.2)
    const std::uint16_t slot = free_transmit_slots_[--free_transmit_count_];
    transmit_slots_[slot] = packet;
    transmit_.add_buffer(slot, iova_of(header), std::uint32_t{net_header_size} + length, /*device_writes=*/false);
    bytes += length;
    ++queued;
  }
  if (queued != 0) {
    transmit_.publish();
    if (transmit_.device_wants_notification()) notify(windows_.transmit_notify, transmit_queue_index);
    counters_.tx_packets.add(queued);
    counters_.tx_bytes.add(bytes);
  } else if (!reaped && taken == 0) {
    note_idle();
  }
  if (bad != 0) counters_.tx_drop_bad_frame.add(bad);
  return taken;
}

}  // namespace aether::drivers::virtio_net
