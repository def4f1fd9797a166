// ServerQueue: the data path where Aether is the memif server.
//
// The client owns every buffer, so the server copies both ways:
//   rx: consume the C2S ring from our tail up to the client's head, copy
//       each validated descriptor chain into pool packets, publish tail;
//   tx: fill the buffers the client offered on the S2C ring, from our tail
//       up to its head, and publish tail.
// Syscalls: one write to the port's private eventfd per tx burst, only if
// the client asked for interrupts (queue.hpp, notify_peer). Nothing else.
#pragma once

#include "copy_path.hpp"

namespace aether::backends::memif {

class ServerQueue final : public CopyingQueue {
 public:
  using CopyingQueue::CopyingQueue;

  unsigned rx_burst(std::span<mem::Packet*> packets) noexcept override {
    const QueueBinding* binding = current_binding();
    if (binding == nullptr || !binding->rx_ring.valid()) return 0;
    const RingView& ring = binding->rx_ring;
    // Acquire: pairs with the client's release of head; the descriptors and
    // buffers it filled before are visible.
    const std::uint16_t head = ring.load_head(std::memory_order_acquire);
    const std::int32_t available = entries_between(rx_cursor_, head, ring.size());
    if (available < 0) {
      memif_counters_.bad_indices.add(1);
      return 0;
    }
    const auto result =
        receive_by_copy(ring, *binding->regions, rx_cursor_, static_cast<std::uint32_t>(available), packets, true);
    if (result.consumed != 0) {
      rx_cursor_ = static_cast<std::uint16_t>(rx_cursor_ + result.consumed);
      // Release: our reads of those buffers happen before the client reuses them.
      ring.store_tail(rx_cursor_, std::memory_order_release);
    }
    return stamp_arrivals(packets, result.delivered);
  }

  unsigned tx_burst(std::span<mem::Packet*> packets) noexcept override {
    const QueueBinding* binding = current_binding();
    if (binding == nullptr || !binding->tx_ring.valid()) return drop_while_down(packets);
    if (packets.empty()) return 0;
    const RingView& ring = binding->tx_ring;
    // Acquire: pairs with the client's release of head after it offered
    // (wrote the descriptors of) empty buffers.
    const std::uint16_t head = ring.load_head(std::memory_order_acquire);
    const std::int32_t offered = entries_between(tx_cursor_, head, ring.size());
    if (offered < 0) {
      memif_counters_.bad_indices.add(1);
      return 0;
    }
    const RegionTable& regions = *binding->regions;
    const auto result = transmit_by_copy<false>(
        ring, tx_cursor_, static_cast<std::uint32_t>(offered), packets, [&](std::uint16_t index) noexcept {
          // The buffer's capacity is the length the client wrote when it offered it.
          const Descriptor d = ring.load(index);
          return TxBuffer{regions.resolve(d.region, d.offset, d.length), d.length, d.region, d.offset};
        });
    if (result.used != 0) {
      tx_cursor_ = static_cast<std::uint16_t>(tx_cursor_ + result.used);
      tx_published_ += result.used;
      // Release: the copied frames and descriptors before the new tail.
      ring.store_tail(tx_cursor_, std::memory_order_release);
      notify_peer(*binding, ring);
    }
    return result.taken;
  }

 private:
  void prepare(const QueueBinding& binding) noexcept override {
    // The client created the rings with head = tail = 0 and starts
    // producing only after CONNECTED; the tails are ours to reset.
    rx_cursor_ = 0;
    tx_cursor_ = 0;
    tx_published_ = 0;
    if (binding.rx_ring.valid()) {
      binding.rx_ring.store_tail(0, std::memory_order_relaxed);
      binding.rx_ring.store_flags(receive_ring_flags());
    }
    if (binding.tx_ring.valid()) binding.tx_ring.store_tail(0, std::memory_order_relaxed);
  }

  void release(const QueueBinding& binding) noexcept override {
    // Frames published on S2C that the client has not shown it received.
    // A client refills right after receiving (DPDK eth_memif_rx), so
    // head - size is where its reading had got to.
    if (!binding.tx_ring.valid()) return;
    const RingView& ring = binding.tx_ring;
    const auto received = static_cast<std::uint16_t>(ring.load_head(std::memory_order_acquire) - ring.size());
    const std::int32_t unread = entries_between(received, tx_cursor_, ring.size());
    if (unread > 0) {
      // Never more than this connection carried (a client that offered
      // buffers and received nothing has head - size "behind" zero).
      memif_counters_.tx_lost_on_disconnect.add(std::min<std::uint64_t>(static_cast<std::uint64_t>(unread), tx_published_));
    }
  }

  std::uint16_t rx_cursor_ = 0;  // C2S: next descriptor to consume == the tail we published
  std::uint16_t tx_cursor_ = 0;  // S2C: next offered buffer to fill == the tail we published
  std::uint64_t tx_published_ = 0;  // S2C descriptors published in this connection
};

}  // namespace aether::backends::memif
