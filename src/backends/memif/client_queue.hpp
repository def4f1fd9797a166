// ClientQueue: the data path where Aether is the memif client, which owns
// (allocates and lends) every buffer.
//
// kZeroCopy = true: the buffers are the mempool's own. rx offers empty pool
// packets on the S2C ring and hands them to the caller once the server has
// filled them; tx puts the caller's packets on the C2S ring as they are and
// frees them when the server's tail passes them. No copy on the Aether side.
// kZeroCopy = false: a fixed buffer per ring slot in region 0 (DPDK's
// non-zero-copy layout); frames are copied in and out.
//
// Whatever the mode, a packet pointer never comes from shared memory: the
// queue keeps its own slot -> packet table (zero copy) or computes the slot's
// fixed buffer (copy). From the ring, rx trusts only a descriptor's length
// (checked against the buffer it lent) and its NEXT flag.
//
// Syscalls: one write to the port's private eventfd per tx burst, only if
// the server asked for interrupts (queue.hpp, notify_peer).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "copy_path.hpp"

namespace aether::backends::memif {

template <bool kZeroCopy>
class ClientQueue final : public CopyingQueue {
 public:
  // max_log2_ring_size: the largest ring this client will create (its
  // rsize); the zero-copy slot tables are allocated for it here, so that
  // taking up a connection allocates nothing on the data path.
  ClientQueue(mem::Mempool& pool, std::uint16_t port_id, std::uint16_t queue_id, bool interrupt_mode,
              unsigned max_log2_ring_size = kMaxLog2RingSize, PeerNotifier* notifier = nullptr)
      : CopyingQueue(pool, port_id, queue_id, interrupt_mode, notifier),
        slot_capacity_(kZeroCopy ? 1u << max_log2_ring_size : 0),
        rx_slots_(std::make_unique<mem::Packet*[]>(slot_capacity_)),
        tx_slots_(std::make_unique<mem::Packet*[]>(slot_capacity_)),
        tx_frame_ends_(std::make_unique<bool[]>(slot_capacity_)) {}

  unsigned rx_burst(std::span<mem::Packet*> packets) noexcept override {
    const QueueBinding* binding = current_binding();
    if (binding == nullptr || !binding->rx_ring.valid()) return 0;
    const RingView& ring = binding->rx_ring;
    // Acquire: pairs with the server's release of tail; what it copied into
    // our buffers before is visible. It can only return what we offered.
    const std::uint16_t tail = ring.load_tail(std::memory_order_acquire);
    const std::int32_t available =
        entries_between(rx_cursor_, tail, static_cast<std::uint16_t>(rx_offered_ - rx_cursor_));
    unsigned delivered = 0;
    if (available < 0) {
      memif_counters_.bad_indices.add(1);
    } else if (available > 0) {
      if constexpr (kZeroCopy) {
        delivered = receive_lent(ring, static_cast<std::uint32_t>(available), packets);
      } else {
        const auto result = receive_by_copy(ring, *binding->regions, rx_cursor_,
                                            static_cast<std::uint32_t>(available), packets, false);
        rx_cursor_ = static_cast<std::uint16_t>(rx_cursor_ + result.consumed);
        delivered = result.delivered;
      }
    }
    refill(*binding, ring, available == 0);
    return stamp_arrivals(packets, delivered);
  }

  unsigned tx_burst(std::span<mem::Packet*> packets) noexcept override {
    const QueueBinding* binding = current_binding();
    if (binding == nullptr || !binding->tx_ring.valid()) return drop_while_down(packets);
    const RingView& ring = binding->tx_ring;
    // Acquire: pairs with the server's release of tail; it has finished
    // reading every buffer before it.
    const std::uint16_t tail = ring.load_tail(std::memory_order_acquire);
    std::uint32_t free_slots = 0;
    if constexpr (kZeroCopy) {
      reclaim(ring, tail);
      free_slots = ring.size() - static_cast<std::uint16_t>(tx_head_ - tx_completed_);
    } else {
      const std::int32_t in_flight = entries_between(tail, tx_head_, ring.size());
      if (in_flight < 0) {
        memif_counters_.bad_indices.add(1);
        return 0;
      }
      free_slots = ring.size() - static_cast<std::uint32_t>(in_flight);
    }
    if (packets.empty() || free_slots == 0) return 0;
    TransmitResult result;
    if constexpr (kZeroCopy) {
      result = transmit_lent(ring, *binding, free_slots, packets);
    } else {
      const RegionView& region = (*binding->regions)[0];
      const std::uint32_t size = binding->buffer_size;
      const std::uint32_t base = binding->tx_buffers_offset;
      result = transmit_by_copy<true>(ring, tx_head_, free_slots, packets, [&](std::uint16_t index) noexcept {
        const std::uint32_t offset = base + std::uint32_t{ring.slot(index)} * size;
        return TxBuffer{region.base + offset, size, 0, offset};
      });
    }
    if (result.used != 0) {
      tx_head_ = static_cast<std::uint16_t>(tx_head_ + result.used);
      // Release: descriptors and (copied or lent) frame bytes before head.
      ring.store_head(tx_head_, std::memory_order_release);
      notify_peer(*binding, ring);
    }
    return result.taken;
  }

 private:
  // Under load, refill once at least this many slots are free: amortises
  // the head store (and the server's miss on that line). An idle burst tops
  // the ring up whatever the count, so a server waiting for room for a long
  // chain is never left short.
  static constexpr std::uint32_t kRefillBatch = 32;
  // Packets allocated per alloc_bulk while refilling.
  static constexpr unsigned kRefillChunk = 64;

  void prepare(const QueueBinding& binding) noexcept override {
    rx_cursor_ = rx_offered_ = 0;
    tx_head_ = tx_completed_ = 0;
    if constexpr (kZeroCopy) {
      // The client made these rings: never larger than its own rsize.
      if (binding.rx_ring.size() > slot_capacity_ || binding.tx_ring.size() > slot_capacity_) std::abort();
      std::fill_n(rx_slots_.get(), slot_capacity_, nullptr);
      std::fill_n(tx_slots_.get(), slot_capacity_, nullptr);
      std::fill_n(tx_frame_ends_.get(), slot_capacity_, false);
    }
    if (binding.rx_ring.valid()) {
      binding.rx_ring.store_flags(receive_ring_flags());
      refill(binding, binding.rx_ring, true);  // the server may send at once
    }
  }

  void release(const QueueBinding& binding) noexcept override {
    if constexpr (kZeroCopy) {
      // Lent buffers come home. Those still on C2S were sent and never
      // confirmed: lost. (A peer that keeps its mapping can still write
      // into the pool; see docs/memif.md, "Trust".)
      std::uint64_t lost = 0;
      free_range(tx_slots_.get(), tx_frame_ends_.get(), binding.tx_ring, tx_completed_, tx_head_, &lost);
      free_range(rx_slots_.get(), nullptr, binding.rx_ring, rx_cursor_, rx_offered_, nullptr);
      memif_counters_.tx_lost_on_disconnect.add(lost);
    } else if (binding.tx_ring.valid()) {
      const std::int32_t unconsumed =
          entries_between(binding.tx_ring.load_tail(std::memory_order_acquire), tx_head_, binding.tx_ring.size());
      if (unconsumed > 0) memif_counters_.tx_lost_on_disconnect.add(static_cast<std::uint64_t>(unconsumed));
    }
  }

  // Returns the buffers in slots [from, to) to the pool, by address (the
  // peer may have written their metadata); counts the frames that ended
  // there when `frame_ends` is given.
  void free_range(mem::Packet** slots, const bool* frame_ends, const RingView& ring, std::uint16_t from,
                  std::uint16_t to, std::uint64_t* frames) noexcept {
    if (!ring.valid()) return;
    for (std::uint16_t index = from; index != to; ++index) {
      mem::Packet*& segment = slots[ring.slot(index)];
      if (segment == nullptr) continue;
      (void)pool_.free_lent({&segment, 1});
      segment = nullptr;
      if (frames != nullptr && frame_ends[ring.slot(index)]) ++*frames;
    }
  }

  // ---- zero copy: rx --------------------------------------------------

  // Rewrites all metadata of a lent buffer coming back: the peer could
  // write it while it held the buffer, and nothing from shared memory may
  // steer our pointers or lengths.
  void restore_metadata(mem::Packet& packet, std::uint32_t length) const noexcept {
    packet.next = nullptr;
    packet.pool = &pool_;
    packet.timestamp = 0;
    packet.user_data = 0;
    packet.buffer_index = static_cast<std::uint32_t>(pool_.offset_of(&packet) / pool_.buffer_stride());
    packet.packet_length = length;
    packet.flags = 0;
#ifndef NDEBUG
    packet.debug_state = mem::kPacketStateAllocated;
#endif
    packet.data_offset = static_cast<std::uint16_t>(pool_.headroom());
    packet.data_length = static_cast<std::uint16_t>(length);
    packet.buffer_length = static_cast<std::uint16_t>(pool_.buffer_stride() - sizeof(mem::Packet));
    packet.port = 0;
    packet.queue = 0;
  }

  unsigned receive_lent(const RingView& ring, std::uint32_t available, std::span<mem::Packet*> out) noexcept {
    const auto capacity = static_cast<std::uint32_t>(pool_.data_room());
    unsigned delivered = 0;
    std::uint32_t consumed = 0;
    std::uint64_t bytes = 0;
    while (delivered < out.size() && consumed < available) {
      mem::Packet* head = nullptr;
      mem::Packet* last = nullptr;
      std::uint64_t total = 0;
      bool bad = false;
      bool incomplete = false;
      const std::uint32_t first = consumed;
      for (;;) {
        if (consumed == available) {
          incomplete = true;
          break;
        }
        const auto index = static_cast<std::uint16_t>(rx_cursor_ + consumed);
        const Descriptor d = ring.load(index);
        mem::Packet* segment = rx_slots_[ring.slot(index)];
        ++consumed;
        const bool fits = d.length <= capacity;
        bad = bad || !fits;
        restore_metadata(*segment, fits ? d.length : 0);
        total += segment->data_length;
        if (last == nullptr) {
          head = segment;
        } else {
          last->next = segment;
        }
        last = segment;
        if ((d.flags & kDescriptorFlagNext) == 0) break;
      }
      const bool drop = bad || incomplete || total == 0 || total > kMaxFrameBytes;
      // Our own record of the chain's segments, not the `next` links the
      // peer can rewrite: each is freed by address, or handed over.
      for (std::uint32_t k = first; k < consumed; ++k) {
        mem::Packet*& segment = rx_slots_[ring.slot(static_cast<std::uint16_t>(rx_cursor_ + k))];
        if (drop) (void)pool_.free_lent({&segment, 1});
        segment = nullptr;
      }
      if (drop) {
        if (bad) memif_counters_.bad_descriptors.add(1);
        if (incomplete) memif_counters_.incomplete_chains.add(1);
        counters_.rx_drop_bad_frame.add(1);
        continue;
      }
      head->packet_length = static_cast<std::uint32_t>(total);
      stamp(*head);
      out[delivered++] = head;
      bytes += total;
    }
    rx_cursor_ = static_cast<std::uint16_t>(rx_cursor_ + consumed);
    counters_.rx_packets.add(delivered);
    counters_.rx_bytes.add(bytes);
    return delivered;
  }

  void refill(const QueueBinding& binding, const RingView& ring, bool idle) noexcept {
    const std::uint32_t lent = static_cast<std::uint16_t>(rx_offered_ - rx_cursor_);
    std::uint32_t wanted = ring.size() - lent;
    if (wanted == 0 || (!idle && wanted < std::min(kRefillBatch, ring.size()))) return;
    const std::uint16_t before = rx_offered_;
    if constexpr (kZeroCopy) {
      const auto capacity = static_cast<std::uint32_t>(pool_.data_room());
      mem::Packet* fresh[kRefillChunk];
      while (wanted > 0) {
        const unsigned got = pool_.alloc_bulk({fresh, std::min<std::uint32_t>(wanted, kRefillChunk)}, &cache_);
        for (unsigned i = 0; i < got; ++i) {
          rx_slots_[ring.slot(rx_offered_)] = fresh[i];
          const auto offset = static_cast<std::uint32_t>(pool_.offset_of(fresh[i]) + sizeof(mem::Packet) +
                                                         fresh[i]->data_offset);
          ring.store(rx_offered_, Descriptor{0, binding.pool_region, capacity, offset, 0});
          ++rx_offered_;
        }
        wanted -= got;
        if (got == 0) break;  // pool dry: offer the rest next burst
      }
    } else {
      for (; wanted > 0; --wanted) {
        const std::uint32_t offset = binding.rx_buffers_offset + std::uint32_t{ring.slot(rx_offered_)} * binding.buffer_size;
        ring.store(rx_offered_, Descriptor{0, 0, binding.buffer_size, offset, 0});
        ++rx_offered_;
      }
    }
    // Release: the descriptors before the head that offers them.
    if (rx_offered_ != before) ring.store_head(rx_offered_, std::memory_order_release);
  }

  // ---- zero copy: tx --------------------------------------------------

  // Frees what the server has consumed: [tx_completed_, tail).
  void reclaim(const RingView& ring, std::uint16_t tail) noexcept {
    const std::int32_t done =
        entries_between(tx_completed_, tail, static_cast<std::uint16_t>(tx_head_ - tx_completed_));
    if (done < 0) {
      memif_counters_.bad_indices.add(1);
      return;
    }
    // Every segment has its own slot: none is found through `next`, and
    // none is freed by its `buffer_index`, both of which the server can
    // write (free_lent computes the index from the address).
    mem::Packet* batch[kRefillChunk];
    unsigned batched = 0;
    for (std::int32_t i = 0; i < done; ++i) {
      mem::Packet*& segment = tx_slots_[ring.slot(tx_completed_++)];
      if (segment == nullptr) continue;
      batch[batched++] = segment;
      segment = nullptr;
      if (batched == kRefillChunk) {
        (void)pool_.free_lent({batch, batched});
        batched = 0;
      }
    }
    if (batched != 0) (void)pool_.free_lent({batch, batched});
  }

  TransmitResult transmit_lent(const RingView& ring, const QueueBinding& binding, std::uint32_t free_slots,
                               std::span<mem::Packet*> packets) noexcept {
    TransmitResult result;
    std::uint64_t bytes = 0;
    std::uint64_t bad_frames = 0;
    for (mem::Packet*& packet : packets) {
      std::uint32_t segments = 0;
      std::uint64_t total = 0;
      bool ours = true;
      for (const mem::Packet* s = packet; s != nullptr; s = s->next) {
        ++segments;
        total += s->data_length;
        ours = ours && s->pool == &pool_;
      }
      if (!ours) segments = 1;  // adopt() makes it one buffer of our pool
      // A chain of more segments than the ring holds would never fit: dropped below.
      const bool longer_than_ring = segments > ring.size();
      if (longer_than_ring) memif_counters_.tx_longer_than_ring.add(1);
      if (total != 0 && total <= kMaxFrameBytes && !longer_than_ring && result.used + segments > free_slots) break;
      if (total == 0 || total > kMaxFrameBytes || longer_than_ring || (!ours && !adopt(packet, total))) {
        ++bad_frames;
        pool_of(packet).free_bulk({&packet, 1});
        ++result.taken;
        continue;
      }
      std::uint32_t k = 0;
      for (mem::Packet* s = packet; s != nullptr; s = s->next, ++k) {
        const auto index = static_cast<std::uint16_t>(tx_head_ + result.used + k);
        const bool last = s->next == nullptr;
        const auto offset = static_cast<std::uint32_t>(pool_.offset_of(s) + sizeof(mem::Packet) + s->data_offset);
        ring.store(index, Descriptor{last ? std::uint16_t{0} : kDescriptorFlagNext, binding.pool_region,
                                     s->data_length, offset, 0});
        tx_slots_[ring.slot(index)] = s;
        tx_frame_ends_[ring.slot(index)] = last;
      }
      result.used += segments;
      bytes += total;
      ++result.taken;
    }
    counters_.tx_packets.add(result.taken - bad_frames);
    counters_.tx_bytes.add(bytes);
    if (bad_frames != 0) counters_.tx_drop_bad_frame.add(bad_frames);
    return result;
  }

  static mem::Mempool& pool_of(mem::Packet* packet) noexcept { return *packet->pool; }

  // A packet of another pool (e.g. forwarded from another port) cannot be
  // lent: the server only sees this pool. Copies it into one buffer of
  // ours, frees the original, and replaces `packet`. False if it does not
  // fit one buffer or this pool is dry (the caller drops it).
  bool adopt(mem::Packet*& packet, std::uint64_t total) noexcept {
    if (total > pool_.data_room()) return false;
    mem::Packet* copy = nullptr;
    if (pool_.alloc_bulk({&copy, 1}, &cache_) == 0) return false;
    std::byte* destination = copy->data();
    for (const mem::Packet* s = packet; s != nullptr; s = s->next) {
      std::memcpy(destination, s->data(), s->data_length);
      destination += s->data_length;
    }
    (void)copy->set_length(static_cast<std::uint16_t>(total));
    pool_of(packet).free_bulk({&packet, 1});
    packet = copy;
    memif_counters_.tx_foreign_copies.add(1);
    return true;
  }

  const std::uint32_t slot_capacity_;  // zero copy: entries in each slot table
  std::uint16_t rx_cursor_ = 0;     // S2C: next descriptor to receive
  std::uint16_t rx_offered_ = 0;    // S2C: the head we published (buffers lent up to here)
  std::uint16_t tx_head_ = 0;       // C2S: the head we published
  std::uint16_t tx_completed_ = 0;  // C2S zero copy: reclaimed up to here
  const std::unique_ptr<mem::Packet*[]> rx_slots_;  // zero copy: the packet lent in each S2C slot
  const std::unique_ptr<mem::Packet*[]> tx_slots_;  // zero copy: the segment lent in each C2S slot
  const std::unique_ptr<bool[]> tx_frame_ends_;     // zero copy: that slot holds a frame's last segment
};

}  // namespace aether::backends::memif
