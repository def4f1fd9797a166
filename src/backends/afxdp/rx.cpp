// AF_XDP receive: fill ring refill and rx ring consumption.
#include <algorithm>

#include "queue.hpp"

namespace aether::backends::afxdp {
namespace {

// The fill ring is topped up in steps of at least this many buffers, so a
// busy queue pays one ring submit (one release store) per batch.
constexpr std::uint32_t kFillBatch = 64;

}  // namespace

void AfxdpQueue::refill_fill_ring() noexcept {
  // kernel_rx_buffers_ counts every buffer on the fill ring, so this one
  // comparison is the whole cost on most bursts.
  if (kernel_rx_buffers_ + kFillBatch > config_.fill_target) return;
  std::uint32_t wanted = std::min(config_.fill_target - kernel_rx_buffers_, kMaxBurst);
  // The kernel may have put a frame on rx before advancing its fill
  // consumer index (xsk_flush: rx submit, then fill release), so ask the
  // ring for room rather than trusting the count (refreshes cached_cons with
  // an acquire load of the kernel's consumer index when short).
  wanted = std::min(wanted, xsk_prod_nb_free(fill_, wanted));
  if (wanted == 0) return;

  net::Packet* fresh[kMaxBurst];
  std::uint32_t got = 0;
  while (got < wanted) {
    // Requests up to the cache size are served from the cache.
    const std::uint32_t step = std::min<std::uint32_t>(wanted - got, kFillBatch);
    const unsigned served = pool_->alloc_bulk(std::span<net::Packet*>(fresh + got, step), &cache_);
    got += served;
    if (served < step) break;  // pool exhausted: the kernel counts the misses (rx_fill_ring_empty_descs)
  }
  if (got == 0) return;

  std::uint32_t index = 0;
  // Cannot fail: xsk_prod_nb_free above said `wanted` >= `got` slots are free.
  (void)xsk_ring_prod__reserve(fill_, got, &index);
  for (std::uint32_t i = 0; i < got; ++i) {
    // Aligned mode: any address inside the chunk names the chunk; we give
    // the chunk start (the Packet), the kernel adds the headrooms.
    *xsk_ring_prod__fill_addr(fill_, index + i) = pool_->offset_of(fresh[i]);
    ledger_->give(fresh[i]);
  }
  // Release store of the producer index: the addresses are visible first.
  xsk_ring_prod__submit(fill_, got);
  kernel_rx_buffers_ += got;
}

net::Packet* AfxdpQueue::packet_for_rx(const xdp_desc& descriptor) noexcept {
  // Validate before trusting: a buffer of this pool (packet_at_offset checks
  // range and chunk alignment), one we gave the kernel (the ledger), and a
  // frame that lies inside the buffer after the metadata.
  const std::uint64_t chunk = descriptor.addr & chunk_mask_;
  net::Packet* packet = pool_->packet_at_offset(chunk);
  if (packet == nullptr || !ledger_->take_back(packet)) {
    invalid_kernel_addresses_.add(1);
    return nullptr;
  }
  --kernel_rx_buffers_;
  const std::uint64_t in_chunk = descriptor.addr - chunk;
  if (in_chunk < kFrameHeadroom || descriptor.len == 0 ||
      in_chunk - kFrameHeadroom + descriptor.len > packet->buffer_length) {
    invalid_kernel_addresses_.add(1);
    counters_.rx_drop_bad_frame.add(1);
    pool_->free_bulk(std::span<net::Packet* const>(&packet, 1), &cache_);
    return nullptr;
  }
  // The frame is at chunk + in_chunk = buffer_start() + (in_chunk - 64):
  // data_offset 256 unless an XDP program moved the head.
  packet->data_offset = static_cast<std::uint16_t>(in_chunk - kFrameHeadroom);
  packet->data_length = static_cast<std::uint16_t>(descriptor.len);
  packet->packet_length = descriptor.len;
  packet->port = config_.port_id;
  packet->queue = config_.queue_id;
  return packet;
}

unsigned AfxdpQueue::rx_burst(std::span<net::Packet*> packets) noexcept {
  housekeeping();
  // Frames a sendto left behind (EAGAIN) must not wait for the next
  // tx_burst, which may never come.
  if (tx_kick_pending_) kick_tx();
  refill_fill_ring();

  std::uint32_t index = 0;
  const auto wanted = static_cast<std::uint32_t>(std::min<std::size_t>(packets.size(), kMaxBurst));
  // Acquire load of the kernel's rx producer index when the cached one is
  // used up; the descriptors below are then visible.
  const std::uint32_t ready = xsk_ring_cons__peek(rx_, wanted, &index);
  if (ready == 0) {
    // Nothing yet: in zero-copy mode a driver that sleeps sets
    // XDP_RING_NEED_WAKEUP on the fill ring; with preferred busy polling the
    // syscall is what runs the driver's poll. Once per empty burst.
    if (config_.busy_poll || xsk_ring_prod__needs_wakeup(fill_)) wake_rx();
    return 0;
  }

  unsigned delivered = 0;
  std::uint64_t bytes = 0;
  // AF_XDP descriptors carry no receive time: one clock read per burst.
  const std::uint64_t poll_time_ns = rx_clock_->now_ns();
  for (std::uint32_t i = 0; i < ready; ++i) {
    net::Packet* packet = packet_for_rx(*xsk_ring_cons__rx_desc(rx_, index + i));
    if (packet == nullptr) continue;
    packet->timestamp = poll_time_ns;
    bytes += packet->data_length;
    packets[delivered++] = packet;
  }
  // Release store of the consumer index: we are done reading the
  // descriptors (the buffers themselves are ours now, not the ring's).
  xsk_ring_cons__release(rx_, ready);
  counters_.rx_packets.add(delivered);
  counters_.rx_bytes.add(bytes);
  return delivered;
}

}  // namespace aether::backends::afxdp
