// afpacket receive path, TPACKET_V2: a ring of fixed-size frames, each
// handed to user space as soon as the kernel has written it.
#include <algorithm>

#include "afpacket_queue.hpp"

namespace aether::backends::afpacket {

AfPacketQueueV2::AfPacketQueueV2(const PacketSocket& rx_socket, const PacketSocket& tx_socket, mem::Mempool& pool,
                                 unsigned mtu, std::uint16_t port_id)
    : AfPacketQueue(rx_socket, tx_socket, pool, mtu, port_id),
      ring_(rx_socket.ring()),
      frame_size_(rx_socket.geometry().frame_size),
      frame_count_(rx_socket.geometry().frame_count) {}

unsigned AfPacketQueueV2::rx_burst(std::span<mem::Packet*> packets) noexcept {
  // Count the ready frames first, so that one alloc_bulk serves them all.
  const auto limit = static_cast<unsigned>(std::min<std::size_t>(packets.size(), frame_count_));
  unsigned ready = 0;
  for (unsigned index = index_; ready < limit; index = next(index), ++ready) {
    if ((load_status(header(index)->tp_status) & TP_STATUS_USER) == 0) break;
  }
  const unsigned delivered = ready == 0 ? 0 : deliver(packets, ready, *this);
  finish_rx_burst();
  return delivered;
}

RxFrame AfPacketQueueV2::current() const noexcept {
  const tpacket2_hdr& frame_header = *header(index_);
  return describe_frame(frame_header, frame_header.tp_vlan_tci, frame_header.tp_vlan_tpid);
}

void AfPacketQueueV2::release_current() noexcept {
  store_status(header(index_)->tp_status, TP_STATUS_KERNEL);
  index_ = next(index_);
}

}  // namespace aether::backends::afpacket
