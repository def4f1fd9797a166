// AF_XDP transmit: completion reaping, descriptor writing, the sendto kick.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "queue.hpp"

namespace aether::backends::afxdp {
namespace {

constexpr std::uint16_t kEthernetHeader = 14;  // IEEE 802.3 destination, source, EtherType
// sendto calls one tx_burst may make while the kernel keeps answering
// EAGAIN with progress (copy mode before Linux 6.17: 32 frames per call).
constexpr unsigned kMaxKicksPerBurst = 4;

}  // namespace

void AfxdpQueue::reap_completions() noexcept {
  std::uint32_t index = 0;
  // Acquire load of the kernel's completion producer index (when the cache
  // is used up): the addresses below are then visible.
  const std::uint32_t done = xsk_ring_cons__peek(completion_, kMaxBurst, &index);
  if (done == 0) return;
  net::Packet* batch[64];
  unsigned count = 0;
  for (std::uint32_t i = 0; i < done; ++i) {
    const std::uint64_t address = *xsk_ring_cons__comp_addr(completion_, index + i);
    net::Packet* packet = pool_->packet_at_offset(address & chunk_mask_);
    // Same rule as rx: only a buffer we put on the tx ring comes back.
    if (packet == nullptr || !ledger_->take_back(packet)) {
      invalid_kernel_addresses_.add(1);
      continue;
    }
    batch[count++] = packet;
    if (count == 64) {
      pool_->free_bulk(std::span<net::Packet* const>(batch, count), &cache_);
      count = 0;
    }
  }
  if (count != 0) pool_->free_bulk(std::span<net::Packet* const>(batch, count), &cache_);
  // Release store of the consumer index: the slots may be reused.
  xsk_ring_cons__release(completion_, done);
}

net::Packet* AfxdpQueue::copy_foreign(net::Packet* packet) noexcept {
  net::Packet* copy = nullptr;
  if (pool_->alloc_bulk(std::span<net::Packet*>(&copy, 1), &cache_) == 0) return nullptr;
  // Our buffers have at least the pool's data room after the default
  // headroom; max_tx_frame (checked by the caller) is far below it.
  std::memcpy(copy->data(), packet->data(), packet->data_length);
  (void)copy->set_length(packet->data_length);
  copy->port = packet->port;
  copy->queue = packet->queue;
  // The original goes back to its own pool (its shared ring: we have no
  // cache of that pool). Rare path, one ring operation per packet.
  packet->pool->free_bulk(std::span<net::Packet* const>(&packet, 1));
  tx_foreign_copies_.add(1);
  return copy;
}

unsigned AfxdpQueue::tx_burst(std::span<net::Packet*> packets) noexcept {
  housekeeping();
  reap_completions();

  const auto offered = static_cast<std::uint32_t>(std::min<std::size_t>(packets.size(), kMaxBurst));
  // Free tx slots (acquire load of the kernel's consumer index if the cached
  // view is short). Everything staged below fits.
  const std::uint32_t room = xsk_prod_nb_free(tx_, offered);
  const std::uint32_t limit = std::min(offered, room);

  net::Packet* staged[kMaxBurst];
  std::uint32_t staged_count = 0;
  std::uint32_t bad = 0;
  unsigned taken = 0;
  for (; taken < limit; ++taken) {
    net::Packet* packet = packets[taken];
    const std::uint16_t length = packet->data_length;
    if (packet->next != nullptr || length < kEthernetHeader || length > config_.max_tx_frame) {
      // Not sendable as one AF_XDP frame (no multi-buffer here): taken and
      // dropped, counted.
      ++bad;
      packet->pool->free_bulk(std::span<net::Packet* const>(&packet, 1), packet->pool == pool_ ? &cache_ : nullptr);
      continue;
    }
    if (packet->pool != pool_) {
      packet = copy_foreign(packet);
      if (packet == nullptr) break;  // no buffer of ours: the rest stays the caller's
    } else if (ledger_->held(packet)) {
      // The caller offered a buffer the kernel still holds (sent twice, or
      // a packet still on the fill ring): sending it would corrupt a frame
      // in flight. Taken, not sent, not freed.
      invalid_kernel_addresses_.add(1);
      ++bad;
      continue;
    }
    staged[staged_count++] = packet;
  }

  if (staged_count != 0) {
    std::uint32_t index = 0;
    // Cannot fail: staged_count <= room.
    (void)xsk_ring_prod__reserve(tx_, staged_count, &index);
    std::uint64_t bytes = 0;
    for (std::uint32_t i = 0; i < staged_count; ++i) {
      net::Packet* packet = staged[i];
      xdp_desc* descriptor = xsk_ring_prod__tx_desc(tx_, index + i);
      // Aligned mode: the address is the frame's first byte; the kernel
      // checks it stays inside one chunk (xp_aligned_validate_desc), which
      // data_offset + length <= buffer_length guarantees.
      descriptor->addr = pool_->offset_of(packet) + kFrameHeadroom + packet->data_offset;
      descriptor->len = packet->data_length;
      descriptor->options = 0;
      bytes += packet->data_length;
      ledger_->give(packet);
    }
    // Release store of the producer index after the descriptors.
    xsk_ring_prod__submit(tx_, staged_count);
    counters_.tx_packets.add(staged_count);
    counters_.tx_bytes.add(bytes);
  }
  if (bad != 0) counters_.tx_drop_bad_frame.add(bad);
  if (staged_count != 0 || tx_kick_pending_) kick_tx();
  return taken;
}

void AfxdpQueue::kick_tx() noexcept {
  tx_kick_pending_ = false;
  // Zero-copy drivers that are awake pick descriptors up themselves; copy
  // mode always needs the syscall (the kernel transmits inside sendto).
  if (!config_.busy_poll && !xsk_ring_prod__needs_wakeup(tx_)) return;
  const std::uint32_t ring_size = config_.ring_size;
  for (unsigned kick = 0; kick < kMaxKicksPerBurst; ++kick) {
    tx_wakeups_.add(1);
    if (sendto(socket_->fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) return;
    switch (errno) {
      case EAGAIN:
        // Copy mode: budget reached, or the driver was busy (NETDEV_TX_BUSY,
        // e.g. a full veth ring). Go again only while frames remain.
        if (xsk_prod_nb_free(tx_, ring_size) == ring_size) return;
        tx_kick_pending_ = true;
        continue;
      case EBUSY:
        // NET_XMIT_DROP: one frame completed without being sent
        // (xsk_generic_xmit); its buffer comes back on the completion ring.
        counters_.tx_drop_error.add(1);
        tx_kick_pending_ = xsk_prod_nb_free(tx_, ring_size) != ring_size;
        return;
      default:
        // ENETDOWN, ENXIO: the frames stay on the ring and go with the next
        // tx_burst's kick; no retry from rx_burst, which would make one
        // syscall per burst for as long as the link is down.
        return;
    }
  }
}

}  // namespace aether::backends::afxdp
