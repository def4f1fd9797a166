// AfPacketQueue: construction and the parts of the rx path both ring
// versions share (copying a frame out, kernel drop statistics).
#include "afpacket_queue.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "aether/net/frame.hpp"

namespace aether::backends::afpacket {
namespace {

// Where an 802.1Q tag goes: after the two MAC addresses (IEEE 802.1Q, 9.3).
constexpr std::size_t kVlanTagOffset = 12;
constexpr std::size_t kVlanTagSize = 4;

}  // namespace

AfPacketQueue::AfPacketQueue(const PacketSocket& rx_socket, const PacketSocket& tx_socket, mem::Mempool& pool,
                             unsigned mtu, std::uint16_t port_id)
    : rx_fd_(rx_socket.fd()),
      pool_(pool),
      cache_(pool),
      rx_clock_(net::RxClock::process()),
      data_room_(pool.data_room()),
      port_id_(port_id),
      tx_fd_(tx_socket.fd()),
      tx_ring_(tx_socket.ring()),
      tx_frame_size_(tx_socket.geometry().frame_size),
      tx_frame_count_(tx_socket.geometry().frame_count),
      tx_max_frame_(mtu + static_cast<unsigned>(sizeof(net::EthernetHeader))) {}

bool AfPacketQueue::copy_frame(mem::Packet& packet, const RxFrame& frame) noexcept {
  const bool tagged = (frame.status & TP_STATUS_VLAN_VALID) != 0 && frame.captured >= kVlanTagOffset;
  const std::size_t length = frame.captured + (tagged ? kVlanTagSize : 0);
  // captured < original: the ring frame was too small for it.
  if (frame.captured != frame.original || length > data_room_) return false;
  std::byte* out = packet.data();
  if (tagged) {
    // The kernel moved the tag out of the frame (VLAN acceleration) into
    // the ring header; put it back so the application sees the wire frame.
    const std::uint16_t tpid =
        htons((frame.status & TP_STATUS_VLAN_TPID_VALID) != 0 ? frame.vlan_tpid : net::ether_type_vlan);
    const std::uint16_t tci = htons(frame.vlan_tci);
    std::memcpy(out, frame.data, kVlanTagOffset);
    std::memcpy(out + kVlanTagOffset, &tpid, sizeof tpid);
    std::memcpy(out + kVlanTagOffset + sizeof tpid, &tci, sizeof tci);
    std::memcpy(out + kVlanTagOffset + kVlanTagSize, frame.data + kVlanTagOffset, frame.captured - kVlanTagOffset);
  } else {
    std::memcpy(out, frame.data, frame.captured);
  }
  (void)packet.set_length(static_cast<std::uint16_t>(length));
  packet.port = port_id_;
  packet.queue = 0;
  packet.timestamp = rx_clock_.from_realtime_ns(frame.timestamp_ns);
  return true;
}

void AfPacketQueue::read_kernel_drops() noexcept {
  // Reading PACKET_STATISTICS resets it, so each read's tp_drops is new.
  // tpacket_stats_v3 starts like tpacket_stats; the kernel copies the
  // shorter one for V2 (af_packet.c, packet_getsockopt).
  tpacket_stats_v3 statistics{};
  socklen_t length = sizeof statistics;
  if (getsockopt(rx_fd_, SOL_PACKET, PACKET_STATISTICS, &statistics, &length) == 0) {
    if (statistics.tp_drops != 0) counters_.rx_drop_kernel.add(statistics.tp_drops);
    // Only a V3 socket copies the longer struct (V2's length stays short).
    if (length == sizeof statistics && statistics.tp_freeze_q_cnt != 0) ring_freezes_.add(statistics.tp_freeze_q_cnt);
  }
  losing_ = false;
  bursts_since_statistics_ = 0;
}

}  // namespace aether::backends::afpacket
