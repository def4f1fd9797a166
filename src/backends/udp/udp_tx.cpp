// udp transmit path: frames parsed as Ethernet/IPv4/UDP, their payloads
// sent with one sendmmsg per chunk of `batch` frames.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "aether/mem/free_to_owners.hpp"
#include "udp_queue.hpp"

namespace aether::backends::udp {

unsigned UdpQueue::tx_burst(std::span<mem::Packet*> packets) noexcept {
  unsigned taken = 0;
  while (taken < packets.size()) {
    const auto chunk = packets.subspan(taken, std::min<std::size_t>(packets.size() - taken, batch_));
    const unsigned chunk_taken = send_chunk(chunk);
    taken += chunk_taken;
    if (chunk_taken < chunk.size()) break;  // socket buffer full: the caller keeps the rest
  }
  return taken;
}

// Sends one chunk (at most batch_ frames); returns how many of its frames,
// from the front, were taken (sent, or dropped and counted).
unsigned UdpQueue::send_chunk(std::span<mem::Packet*> chunk) noexcept {
  unsigned messages = 0;
  for (unsigned i = 0; i < chunk.size(); ++i) {
    mem::Packet* packet = chunk[i];
    net::FrameError error{};
    const auto frame = packet->next == nullptr ? net::parse_udp_frame({packet->data(), packet->length()}, error)
                                               : std::nullopt;  // a chain: not one datagram
    if (!frame) continue;                                       // taken as a bad frame if everything before it is taken
    tx_iovecs_[messages].iov_base = frame->payload.data();
    tx_iovecs_[messages].iov_len = frame->payload.size();
    tx_destinations_[messages].sin_addr.s_addr = frame->ip->destination_be;
    tx_destinations_[messages].sin_port = frame->udp->destination_port_be;
    tx_packet_of_message_[messages] = i;
    ++messages;
  }

  unsigned done = 0;  // messages sent or refused
  std::uint64_t bytes = 0;
  unsigned sent_total = 0;
  bool socket_full = false;
  while (done < messages) {
    const int sent = sendmmsg(fd_, tx_messages_.get() + done, messages - done, MSG_DONTWAIT);
    if (sent > 0) {
      for (unsigned j = done; j < done + static_cast<unsigned>(sent); ++j)
        bytes += chunk[tx_packet_of_message_[j]]->length();
      done += static_cast<unsigned>(sent);
      sent_total += static_cast<unsigned>(sent);
      continue;  // a short count means message `done` failed: the next call reports why
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      socket_full = true;
      break;
    }
    // Refused for good (no route, port 0, ...): the datagram is taken and counted.
    counters_.tx_drop_error.add(1);
    ++done;
  }

  // Everything before the first unsent message is taken, bad frames included.
  const unsigned chunk_taken = socket_full ? tx_packet_of_message_[done] : static_cast<unsigned>(chunk.size());
  const unsigned bad_frames = chunk_taken - done;
  counters_.tx_packets.add(sent_total);
  counters_.tx_bytes.add(bytes);
  if (bad_frames != 0) counters_.tx_drop_bad_frame.add(bad_frames);
  // Frames forwarded from a port on another pool go back to it, one ring
  // operation each; a shared pool keeps them in this queue's cache.
  const unsigned foreign = mem::free_to_owners(chunk.first(chunk_taken), cache_);
  if (foreign != 0) foreign_frees_.add(foreign);
  return chunk_taken;
}

}  // namespace aether::backends::udp
