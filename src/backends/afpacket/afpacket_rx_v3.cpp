// afpacket receive path, TPACKET_V3: a ring of blocks, each packed with
// variable-length frames and handed to user space whole, when it is full
// or when its retire timer (tp_retire_blk_tov) fires.
#include <algorithm>

#include "afpacket_queue.hpp"

namespace aether::backends::afpacket {

AfPacketQueueV3::AfPacketQueueV3(const PacketSocket& rx_socket, const PacketSocket& tx_socket, mem::Mempool& pool,
                                 unsigned mtu, std::uint16_t port_id)
    : AfPacketQueue(rx_socket, tx_socket, pool, mtu, port_id),
      ring_(rx_socket.ring()),
      block_size_(rx_socket.geometry().block_size),
      block_count_(rx_socket.geometry().block_count) {}

unsigned AfPacketQueueV3::rx_burst(std::span<mem::Packet*> packets) noexcept {
  // At most packets.size() frames are read per burst, delivered or not, as
  // with V2: a burst without buffers does not drain the whole ring.
  unsigned delivered = 0;
  std::size_t budget = packets.size();
  while (budget != 0 && (packets_left_ != 0 || open_block())) {
    const auto count = static_cast<unsigned>(std::min<std::size_t>(budget, packets_left_));
    delivered += deliver(packets.subspan(delivered), count, *this);
    budget -= count;
    if (packets_left_ == 0) close_block();
  }
  finish_rx_burst();
  return delivered;
}

bool AfPacketQueueV3::open_block() noexcept {
  tpacket_block_desc* descriptor = block(block_index_);
  if ((load_status(descriptor->hdr.bh1.block_status) & TP_STATUS_USER) == 0) return false;
  if (descriptor->hdr.bh1.num_pkts == 0) {  // not expected (the kernel retires only blocks with frames)
    close_block();
    return false;
  }
  packets_left_ = descriptor->hdr.bh1.num_pkts;
  packet_ = reinterpret_cast<std::byte*>(descriptor) + descriptor->hdr.bh1.offset_to_first_pkt;
  return true;
}

void AfPacketQueueV3::close_block() noexcept {
  store_status(block(block_index_)->hdr.bh1.block_status, TP_STATUS_KERNEL);
  block_index_ = block_index_ + 1 == block_count_ ? 0 : block_index_ + 1;
  packets_left_ = 0;
}

RxFrame AfPacketQueueV3::current() const noexcept {
  const auto& frame_header = *reinterpret_cast<const tpacket3_hdr*>(packet_);
  // hv1.tp_vlan_tci is 32 bits wide in V3; a TCI has 16.
  return describe_frame(frame_header, static_cast<std::uint16_t>(frame_header.hv1.tp_vlan_tci),
                        frame_header.hv1.tp_vlan_tpid);
}

void AfPacketQueueV3::release_current() noexcept {
  // Frames within a block go back with the block (close_block).
  packet_ += reinterpret_cast<const tpacket3_hdr*>(packet_)->tp_next_offset;
  --packets_left_;
}

}  // namespace aether::backends::afpacket
