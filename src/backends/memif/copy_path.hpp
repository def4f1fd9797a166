// Copying between Aether packets and memif buffers named by descriptors:
// the data path of the server (which never owns memif buffers) and of a
// client in copy mode.
//
// Every peer-supplied descriptor goes through RegionTable::resolve() before
// a byte moves; a descriptor is read once (RingView::load) and only the
// local copy is used after the check.
#pragma once

#include <algorithm>
#include <cstring>

#include "queue.hpp"

namespace aether::backends::memif {

// The largest frame accepted from or sent to a peer: the IPv4 datagram
// limit plus an Ethernet header and two VLAN tags. Bounds the work one
// hostile chain can cause.
inline constexpr std::uint32_t kMaxFrameBytes = 65535 + 14 + 8;
// Descriptors one transmitted packet may span (9 KiB jumbo frames over
// 128-byte buffers need 72; 64 KiB over 128 bytes, 513).
inline constexpr unsigned kMaxTxSegments = 520;

// A buffer to copy a transmitted packet into.
struct TxBuffer {
  std::byte* data = nullptr;  // nullptr: the peer offered an unusable descriptor
  std::uint32_t capacity = 0;
  std::uint16_t region = 0;
  std::uint32_t offset = 0;
};

class CopyingQueue : public MemifQueue {
 public:
  using MemifQueue::MemifQueue;

 protected:
  // How many descriptors ahead receive_by_copy prefetches frame data.
  static constexpr std::uint32_t kPrefetchAhead = 4;

  // A hint only: a descriptor that does not resolve is not prefetched.
  static void prefetch_buffer(const RingView& ring, const RegionTable& regions, std::uint16_t index) noexcept {
    const Descriptor d = ring.load(index);
    if (const std::byte* data = regions.resolve(d.region, d.offset, d.length)) __builtin_prefetch(data);
  }

  struct ReceiveResult {
    unsigned delivered = 0;     // packets written to out[0..delivered)
    std::uint32_t consumed = 0;  // descriptors consumed (delivered or dropped)
  };

  // Receives up to out.size() packets from the descriptors at
  // [cursor, cursor + available) by copy. Stops early (consuming nothing
  // more) when the pool runs dry: the frames stay in the ring and the peer
  // feels back-pressure, as with DPDK's memif rx. With `clear_flags`, the
  // flags of every consumed descriptor are zeroed: a DPDK 22.11 sender
  // never clears MEMIF_DESC_FLAG_NEXT on the first descriptor of a packet
  // (fixed upstream in DPDK commit f7a52200d4, 2026), so a slot reused
  // after carrying a chain would otherwise glue two packets together.
  ReceiveResult receive_by_copy(const RingView& ring, const RegionTable& regions, std::uint16_t cursor,
                                std::uint32_t available, std::span<mem::Packet*> out, bool clear_flags) noexcept {
    ReceiveResult result;
    if (available == 0 || out.empty()) return result;
    // One head buffer per packet, a packet takes at least one descriptor.
    const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), available));
    const unsigned heads = pool_.alloc_bulk(out.first(wanted), &cache_);
    std::uint64_t bytes = 0;
    // The frames were written on the peer's core: start fetching them a few
    // descriptors ahead (counting one descriptor per frame, the usual case).
    for (std::uint32_t k = 0; k < std::min(kPrefetchAhead, available); ++k) {
      prefetch_buffer(ring, regions, static_cast<std::uint16_t>(cursor + k));
    }
    while (result.delivered < heads && result.consumed < available) {
      mem::Packet& head = *out[result.delivered];
      const auto first = static_cast<std::uint16_t>(cursor + result.consumed);
      const CopyIn copied = copy_in(ring, regions, first, available - result.consumed, head);
      if (copied.outcome == CopyIn::Outcome::no_buffer) break;
      result.consumed += copied.descriptors;
      if (result.consumed + kPrefetchAhead - 1 < available) {
        prefetch_buffer(ring, regions, static_cast<std::uint16_t>(cursor + result.consumed + kPrefetchAhead - 1));
      }
      // Only slots that carried a chain can hold a stale NEXT flag later:
      // single-descriptor frames are left alone (no write to the peer's line).
      if (clear_flags && (copied.descriptors > 1 || copied.outcome == CopyIn::Outcome::incomplete_chain)) {
        for (std::uint32_t k = 0; k < copied.descriptors; ++k) ring.clear_flags(static_cast<std::uint16_t>(first + k));
      }
      if (copied.outcome == CopyIn::Outcome::ok) {
        stamp(head);
        bytes += head.packet_length;
        ++result.delivered;
        continue;
      }
      switch (copied.outcome) {
        case CopyIn::Outcome::bad_descriptor: memif_counters_.bad_descriptors.add(1); break;
        case CopyIn::Outcome::incomplete_chain: memif_counters_.incomplete_chains.add(1); break;
        default: break;
      }
      counters_.rx_drop_bad_frame.add(1);
      recycle(head);  // the same buffer serves the next packet
    }
    if (result.delivered < heads) pool_.free_bulk(out.subspan(result.delivered, heads - result.delivered), &cache_);
    counters_.rx_packets.add(result.delivered);
    counters_.rx_bytes.add(bytes);
    return result;
  }

  struct TransmitResult {
    unsigned taken = 0;         // packets[0..taken) are the port's now (sent or dropped)
    std::uint32_t used = 0;     // descriptors filled: publish cursor + used
  };

  // Copies packets into the buffers buffer_for(index) returns for the
  // descriptors at [cursor, cursor + free_slots), chaining with
  // MEMIF_DESC_FLAG_NEXT where a packet exceeds one buffer. A packet that
  // does not fit in the remaining slots stays with the caller and ends the
  // burst. An unusable buffer (nullptr) is passed over as an empty segment
  // of the packet being written: the ring stays in step and no data is lost.
  // kWholeDescriptor: write region and offset too (a client's own buffers);
  // otherwise only flags and length (the peer's buffers, server side).
  template <bool kWholeDescriptor, class BufferFor>
  TransmitResult transmit_by_copy(const RingView& ring, std::uint16_t cursor, std::uint32_t free_slots,
                                  std::span<mem::Packet*> packets, BufferFor&& buffer_for) noexcept {
    TransmitResult result;
    std::uint64_t bytes = 0;
    std::uint64_t sent = 0;
    std::uint64_t bad_frames = 0;
    Descriptor pending[kMaxTxSegments];
    for (mem::Packet* packet : packets) {
      std::uint32_t total = 0;
      for (const mem::Packet* s = packet; s != nullptr; s = s->next) total += s->data_length;
      if (total == 0 || total > kMaxFrameBytes) {
        ++bad_frames;
        ++result.taken;
        continue;
      }
      unsigned segments = 0;
      TxBuffer buffer;
      std::uint32_t filled = 0;
      bool fits = true;
      for (const mem::Packet* s = packet; s != nullptr && fits; s = s->next) {
        const std::byte* source = s->data();
        std::uint32_t remaining = s->data_length;
        while (remaining > 0) {
          if (segments == 0 || filled == buffer.capacity) {
            if (segments == kMaxTxSegments || result.used + segments == free_slots) {
              fits = false;
              break;
            }
            if (segments > 0) pending[segments - 1].length = filled;
            buffer = next_usable(buffer_for, cursor, result.used, segments, free_slots, pending);
            if (buffer.data == nullptr) {
              fits = false;
              break;
            }
            pending[segments++] = Descriptor{kDescriptorFlagNext, buffer.region, 0, buffer.offset, 0};
            filled = 0;
          }
          const std::uint32_t n = std::min(remaining, buffer.capacity - filled);
          std::memcpy(buffer.data + filled, source, n);
          filled += n;
          source += n;
          remaining -= n;
        }
      }
      if (!fits) {
        // Cannot be sent over these buffers at all: more segments than a
        // packet may span, or more than the whole ring offers at once.
        // Waiting would stall this queue forever: drop it, counted.
        const bool whole_ring = result.used == 0 && free_slots >= ring.size();
        if (segments == kMaxTxSegments || whole_ring) {
          if (whole_ring) memif_counters_.tx_longer_than_ring.add(1);
          ++bad_frames;
          ++result.taken;
          continue;
        }
        break;  // no room now: the caller keeps it and the rest
      }
      pending[segments - 1].length = filled;
      pending[segments - 1].flags = 0;
      for (unsigned k = 0; k < segments; ++k) {
        const auto index = static_cast<std::uint16_t>(cursor + result.used + k);
        if constexpr (kWholeDescriptor) {
          ring.store(index, pending[k]);
        } else {
          ring.store_first_word(index, pending[k]);
        }
      }
      result.used += segments;
      bytes += total;
      ++sent;
      ++result.taken;
    }
    free_sent(packets.first(result.taken));
    counters_.tx_packets.add(sent);
    counters_.tx_bytes.add(bytes);
    if (bad_frames != 0) counters_.tx_drop_bad_frame.add(bad_frames);
    return result;
  }

 private:
  struct CopyIn {
    enum class Outcome { ok, no_buffer, bad_descriptor, incomplete_chain, bad_length };
    Outcome outcome = Outcome::ok;
    std::uint32_t descriptors = 0;
  };

  // Copies one packet (a descriptor chain starting at `first`, at most
  // `limit` descriptors) into `head` and segments chained to it. On
  // no_buffer nothing is consumed and head is as allocated; on the other
  // failures the chain is consumed and head must be recycled.
  CopyIn copy_in(const RingView& ring, const RegionTable& regions, std::uint16_t first, std::uint32_t limit,
                 mem::Packet& head) noexcept {
    CopyIn result;
    mem::Packet* segment = &head;
    std::uint64_t total = 0;
    bool usable = true;
    for (;;) {
      if (result.descriptors == limit) {
        result.outcome = CopyIn::Outcome::incomplete_chain;
        return result;
      }
      const Descriptor d = ring.load(static_cast<std::uint16_t>(first + result.descriptors));
      ++result.descriptors;
      const std::byte* source = regions.resolve(d.region, d.offset, d.length);
      total += d.length;
      if (source == nullptr) {
        result.outcome = CopyIn::Outcome::bad_descriptor;
        usable = false;
      } else if (total > kMaxFrameBytes) {
        result.outcome = CopyIn::Outcome::bad_length;
        usable = false;
      }
      std::uint32_t remaining = usable ? d.length : 0;
      while (remaining > 0) {
        std::uint32_t room = segment->tailroom();
        if (room == 0) {
          mem::Packet* next = nullptr;
          if (pool_.alloc_bulk({&next, 1}, &cache_) == 0) {
            recycle(head);
            return CopyIn{CopyIn::Outcome::no_buffer, 0};
          }
          segment->next = next;
          segment = next;
          room = segment->tailroom();
        }
        const std::uint32_t n = std::min(room, remaining);
        std::memcpy(segment->data() + segment->data_length, source, n);
        segment->data_length = static_cast<std::uint16_t>(segment->data_length + n);
        head.packet_length += n;  // the chain's total lives in the first segment (packet.hpp)
        if (segment != &head) segment->packet_length = segment->data_length;
        source += n;
        remaining -= n;
      }
      if ((d.flags & kDescriptorFlagNext) == 0) break;
    }
    if (usable && total == 0) result.outcome = CopyIn::Outcome::bad_length;
    return result;
  }

  // Frees the segments chained to `head` and empties it for reuse.
  void recycle(mem::Packet& head) noexcept {
    if (head.next != nullptr) {
      mem::Packet* rest = head.next;
      pool_.free_bulk({&rest, 1}, &cache_);
    }
    head.reset(static_cast<std::uint16_t>(pool_.headroom()));
  }

  // The next buffer to fill, passing over unusable ones as empty NEXT
  // segments (counted). Returns {nullptr} when the slots run out first.
  template <class BufferFor>
  TxBuffer next_usable(BufferFor& buffer_for, std::uint16_t cursor, std::uint32_t used, unsigned& segments,
                       std::uint32_t free_slots, Descriptor* pending) noexcept {
    for (;;) {
      TxBuffer buffer = buffer_for(static_cast<std::uint16_t>(cursor + used + segments));
      if (buffer.data != nullptr && buffer.capacity != 0) return buffer;
      memif_counters_.bad_descriptors.add(1);
      pending[segments++] = Descriptor{kDescriptorFlagNext, buffer.region, 0, buffer.offset, 0};
      if (segments == kMaxTxSegments || used + segments == free_slots) return TxBuffer{};
    }
  }
};

}  // namespace aether::backends::memif
