// afpacket transmit path: copy into the TPACKET_V2 tx ring, one send()
// per burst to make the kernel walk it.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "afpacket_queue.hpp"
#include "aether/mem/free_to_owners.hpp"
#include "aether/net/frame.hpp"

namespace aether::backends::afpacket {
namespace {

constexpr unsigned kVlanTagSize = 4;

}  // namespace

unsigned AfPacketQueue::tx_burst(std::span<mem::Packet*> packets) noexcept {
  unsigned taken = 0;
  unsigned queued = 0;
  std::uint64_t bytes = 0;
  std::uint64_t bad_frames = 0;
  std::uint64_t refused = 0;
  for (; taken < packets.size(); ++taken) {
    const mem::Packet& packet = *packets[taken];
    if (!sendable(packet)) {
      ++bad_frames;  // taken: freed below
      continue;
    }
    auto* header = reinterpret_cast<tpacket2_hdr*>(tx_ring_ + std::size_t{tx_index_} * tx_frame_size_);
    const std::uint32_t status = load_status(header->tp_status);
    if (status == TP_STATUS_WRONG_FORMAT) {
      // Only without PACKET_LOSS (which open sets) would the kernel leave
      // this; the frame in it was never sent. Count it and reuse the slot.
      ++refused;
    } else if (status != TP_STATUS_AVAILABLE) {
      break;  // TP_STATUS_SEND_REQUEST or SENDING: the kernel still owns it, the ring is full
    }
    std::memcpy(reinterpret_cast<std::byte*>(header) + kTxDataOffset, packet.data(), packet.length());
    header->tp_len = packet.length();
    store_status(header->tp_status, TP_STATUS_SEND_REQUEST);
    tx_index_ = tx_index_ + 1 == tx_frame_count_ ? 0 : tx_index_ + 1;
    ++queued;
    bytes += packet.length();
  }
  if (queued != 0 || kick_pending_) kick();
  counters_.tx_packets.add(queued);
  counters_.tx_bytes.add(bytes);
  if (bad_frames != 0) counters_.tx_drop_bad_frame.add(bad_frames);
  if (refused != 0) counters_.tx_drop_error.add(refused);
  // Frames forwarded from a port on another pool go back to it, one ring
  // operation each; a shared pool keeps them in this queue's cache.
  const unsigned foreign = mem::free_to_owners(packets.first(taken), cache_);
  if (foreign != 0) foreign_frees_.add(foreign);
  return taken;
}

bool AfPacketQueue::sendable(const mem::Packet& packet) const noexcept {
  if (packet.next != nullptr || packet.length() < sizeof(net::EthernetHeader)) return false;
  std::uint16_t ether_type_be = 0;
  std::memcpy(&ether_type_be, packet.data() + offsetof(net::EthernetHeader, ether_type_be), sizeof ether_type_be);
  // A tagged frame may be 4 bytes longer, as the kernel allows (VLAN_HLEN
  // in af_packet.c, tpacket_snd), within the ring frame.
  const bool tagged = ether_type_be == htons(net::ether_type_vlan);
  const unsigned limit = std::min(tx_frame_size_ - kTxDataOffset, tx_max_frame_ + (tagged ? kVlanTagSize : 0));
  return packet.length() <= limit;
}

void AfPacketQueue::kick() noexcept {
  // With MSG_DONTWAIT the kernel sends every TP_STATUS_SEND_REQUEST frame
  // and returns without waiting for completions (af_packet.c, tpacket_snd).
  // EAGAIN (socket send buffer full) or ENOBUFS (device queue stopped)
  // leave the unsent frames queued: kick again on the next burst. Other
  // errors (interface down) also leave them queued; they go when a later
  // tx_burst kicks with the interface up.
  if (send(tx_fd_, nullptr, 0, MSG_DONTWAIT) >= 0) {
    kick_pending_ = false;
    return;
  }
  kick_pending_ = errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS;
}

}  // namespace aether::backends::afpacket
