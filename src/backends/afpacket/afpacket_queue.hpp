// AfPacketQueue: the afpacket port's queue pair over two TPACKET rings.
//
// The rx ring format is chosen once, when the port opens, by picking the
// subclass (AfPacketQueueV2 or AfPacketQueueV3): the burst loop has no
// per-frame version branch. tx (afpacket_tx.cpp) is the same for both: a
// TPACKET_V2 tx ring on its own socket.
//
// Ownership handshake with the kernel (Documentation/networking/
// packet_mmap.rst): a ring frame (V2) or block (V3) belongs to user space
// while its status has TP_STATUS_USER; user space gives it back by storing
// TP_STATUS_KERNEL. For tx, user space may fill a frame whose status is
// TP_STATUS_AVAILABLE and hands it over with TP_STATUS_SEND_REQUEST.
#pragma once

#include <linux/if_packet.h>

#include <atomic>
#include <cstdint>
#include <span>

#include "aether/mem/mempool.hpp"
#include "aether/mem/mempool_cache.hpp"
#include "aether/net/port.hpp"
#include "aether/net/readiness_fd.hpp"
#include "aether/net/rx_clock.hpp"
#include "packet_socket.hpp"

namespace aether::backends::afpacket {

// Status words live in memory the kernel writes. Acquire on the load that
// finds TP_STATUS_USER pairs with the kernel's smp_wmb() before it sets the
// status (af_packet.c, __packet_set_status), so the frame bytes are visible;
// release on the store that returns a frame orders our reads (rx) or
// writes (tx) of it before the kernel can reuse it.
[[nodiscard]] inline std::uint32_t load_status(std::uint32_t& status) noexcept {
  return std::atomic_ref<std::uint32_t>(status).load(std::memory_order_acquire);
}
inline void store_status(std::uint32_t& status, std::uint32_t value) noexcept {
  std::atomic_ref<std::uint32_t>(status).store(value, std::memory_order_release);
}

// A tx frame's data starts after the aligned tpacket2_hdr when
// PACKET_TX_HAS_OFF is off: tp_hdrlen - sizeof(sockaddr_ll)
// (af_packet.c, tpacket_parse_header).
inline constexpr unsigned kTxDataOffset = TPACKET_ALIGN(sizeof(tpacket2_hdr));
static_assert(kTxDataOffset == 32);

// One received frame as its ring header describes it, whichever version.
struct RxFrame {
  const std::byte* data = nullptr;  // the Ethernet header
  std::uint32_t captured = 0;       // bytes in the ring (tp_snaplen)
  std::uint32_t original = 0;       // bytes on the wire (tp_len); more than captured = truncated
  std::uint32_t status = 0;         // TP_STATUS_* of the frame
  std::uint16_t vlan_tci = 0;       // valid with TP_STATUS_VLAN_VALID
  std::uint16_t vlan_tpid = 0;      // valid with TP_STATUS_VLAN_TPID_VALID
  std::uint8_t packet_type = 0;     // sll_pkttype: PACKET_HOST, PACKET_OUTGOING, ...
  std::uint64_t timestamp_ns = 0;   // kernel receive time, CLOCK_REALTIME
};

// Reads a V2 or V3 frame header. Both are followed by a sockaddr_ll at the
// next 16-byte boundary (if_packet.h, "Frame structure"); they differ in
// where the VLAN fields are, so the caller passes those.
template <class FrameHeader>
[[nodiscard]] RxFrame describe_frame(const FrameHeader& header, std::uint16_t vlan_tci,
                                     std::uint16_t vlan_tpid) noexcept {
  const auto* base = reinterpret_cast<const std::byte*>(&header);
  const auto* link = reinterpret_cast<const sockaddr_ll*>(base + TPACKET_ALIGN(sizeof(FrameHeader)));
  RxFrame frame;
  frame.data = base + header.tp_mac;
  frame.captured = header.tp_snaplen;
  frame.original = header.tp_len;
  frame.status = header.tp_status;
  frame.vlan_tci = vlan_tci;
  frame.vlan_tpid = vlan_tpid;
  frame.packet_type = link->sll_pkttype;
  frame.timestamp_ns = std::uint64_t{header.tp_sec} * 1'000'000'000u + header.tp_nsec;
  return frame;
}

class AfPacketQueue : public net::Queue {
 public:
  AfPacketQueue(const PacketSocket& rx_socket, const PacketSocket& tx_socket, mem::Mempool& pool, unsigned mtu,
                std::uint16_t port_id);
  ~AfPacketQueue() override = default;
  AfPacketQueue(const AfPacketQueue&) = delete;
  AfPacketQueue& operator=(const AfPacketQueue&) = delete;

  unsigned tx_burst(std::span<mem::Packet*> packets) noexcept final;
  // wait=block: an epoll fd on the rx socket (net::ReadinessFd); else -1.
  [[nodiscard]] int rx_interrupt_fd() const noexcept final { return interrupt_.fd(); }
  void set_interrupt(net::ReadinessFd interrupt) noexcept { interrupt_ = std::move(interrupt); }
  // TPACKET_V3 queue freezes seen in PACKET_STATISTICS (an xstat).
  [[nodiscard]] std::uint64_t rx_ring_freezes() const noexcept { return ring_freezes_.get(); }
  // Sent frames of another pool, freed to it without a cache (xstat tx_foreign_frees).
  [[nodiscard]] std::uint64_t tx_foreign_frees() const noexcept { return foreign_frees_.get(); }

 protected:
  // Hands `count` ready frames from `ring` to `out` (out.size() >= count):
  // allocates up to count buffers in one call, copies, and gives every
  // frame back to the kernel whether it was delivered or dropped. Ring
  // supplies current() -> RxFrame and release_current().
  template <class Ring>
  unsigned deliver(std::span<mem::Packet*> out, unsigned count, Ring& ring) noexcept;

  // Per burst, after the ring was read: kernel drops and a pending kick.
  void finish_rx_burst() noexcept {
    if (losing_ || ++bursts_since_statistics_ >= kStatisticsInterval) read_kernel_drops();
    if (kick_pending_) kick();
  }

  const int rx_fd_;

 private:
  // PACKET_STATISTICS is read (and so reset) at least this often, in
  // bursts, to catch drops after which no frame came to carry TP_STATUS_LOSING.
  static constexpr std::uint32_t kStatisticsInterval = 1u << 20;

  [[nodiscard]] bool copy_frame(mem::Packet& packet, const RxFrame& frame) noexcept;
  void read_kernel_drops() noexcept;
  void kick() noexcept;
  [[nodiscard]] bool sendable(const mem::Packet& packet) const noexcept;

  mem::Mempool& pool_;
  mem::MempoolCache cache_;
  const net::RxClock& rx_clock_;
  net::ReadinessFd interrupt_;
  net::QueueCounters::Counter ring_freezes_;
  net::QueueCounters::Counter foreign_frees_;
  const std::size_t data_room_;
  const std::uint16_t port_id_;
  bool losing_ = false;        // a frame since the last statistics read had TP_STATUS_LOSING
  bool kick_pending_ = false;  // the last kick found no room: frames still wait in the tx ring
  std::uint32_t bursts_since_statistics_ = 0;

  // tx ring: frame i at tx_ring_ + i * tx_frame_size_; the kernel walks it
  // in order, so one index suffices.
  const int tx_fd_;
  std::byte* const tx_ring_;
  const unsigned tx_frame_size_;
  const unsigned tx_frame_count_;
  const unsigned tx_max_frame_;  // mtu + 14, untagged; +4 for a VLAN tag
  unsigned tx_index_ = 0;
};

class AfPacketQueueV2 final : public AfPacketQueue {
 public:
  AfPacketQueueV2(const PacketSocket& rx_socket, const PacketSocket& tx_socket, mem::Mempool& pool, unsigned mtu,
                  std::uint16_t port_id);
  unsigned rx_burst(std::span<mem::Packet*> packets) noexcept override;

  // Ring interface for deliver().
  [[nodiscard]] RxFrame current() const noexcept;
  void release_current() noexcept;

 private:
  [[nodiscard]] tpacket2_hdr* header(unsigned index) const noexcept {
    return reinterpret_cast<tpacket2_hdr*>(ring_ + std::size_t{index} * frame_size_);
  }
  [[nodiscard]] unsigned next(unsigned index) const noexcept { return index + 1 == frame_count_ ? 0 : index + 1; }

  std::byte* const ring_;
  const unsigned frame_size_;
  const unsigned frame_count_;
  unsigned index_ = 0;  // the next frame the kernel will hand over
};

class AfPacketQueueV3 final : public AfPacketQueue {
 public:
  AfPacketQueueV3(const PacketSocket& rx_socket, const PacketSocket& tx_socket, mem::Mempool& pool, unsigned mtu,
                  std::uint16_t port_id);
  unsigned rx_burst(std::span<mem::Packet*> packets) noexcept override;

  // Ring interface for deliver().
  [[nodiscard]] RxFrame current() const noexcept;
  void release_current() noexcept;

 private:
  [[nodiscard]] tpacket_block_desc* block(unsigned index) const noexcept {
    return reinterpret_cast<tpacket_block_desc*>(ring_ + std::size_t{index} * block_size_);
  }
  [[nodiscard]] bool open_block() noexcept;
  void close_block() noexcept;

  std::byte* const ring_;
  const unsigned block_size_;
  const unsigned block_count_;
  unsigned block_index_ = 0;        // the block being read, or the next to wait for
  std::uint32_t packets_left_ = 0;  // unread frames in the open block; 0 = no block open
  std::byte* packet_ = nullptr;     // the next unread frame's tpacket3_hdr
};

template <class Ring>
unsigned AfPacketQueue::deliver(std::span<mem::Packet*> out, unsigned count, Ring& ring) noexcept {
  const unsigned allocated = pool_.alloc_bulk(out.first(count), &cache_);
  unsigned delivered = 0;
  std::uint64_t bytes = 0;
  std::uint64_t no_buffer = 0;
  std::uint64_t truncated = 0;
  for (unsigned i = 0; i < count; ++i) {
    const RxFrame frame = ring.current();
    losing_ = losing_ || (frame.status & TP_STATUS_LOSING) != 0;
    // PACKET_IGNORE_OUTGOING keeps outgoing frames out of the ring; the
    // check guards against a kernel that ignored the option.
    if (frame.packet_type != PACKET_OUTGOING) {
      if (delivered == allocated) {
        ++no_buffer;  // the frame still goes back to the kernel: the ring never stalls
      } else if (copy_frame(*out[delivered], frame)) {
        bytes += out[delivered]->length();
        ++delivered;
      } else {
        ++truncated;
      }
    }
    ring.release_current();
  }
  // Buffers left over by dropped frames go back in one call.
  if (delivered < allocated) pool_.free_bulk(out.subspan(delivered, allocated - delivered), &cache_);
  counters_.rx_packets.add(delivered);
  counters_.rx_bytes.add(bytes);
  if (no_buffer != 0) counters_.rx_drop_no_buffer.add(no_buffer);
  if (truncated != 0) counters_.rx_drop_truncated.add(truncated);
  return delivered;
}

}  // namespace aether::backends::afpacket
