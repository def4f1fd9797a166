// udp receive path: one recvmmsg per burst straight into Packet buffers,
// then synthetic Ethernet/IPv4/UDP headers in front of each payload. Never
// blocks: in wait=block the worker sleeps on rx_interrupt_fd() instead.
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "udp_queue.hpp"

namespace aether::backends::udp {

unsigned UdpQueue::rx_burst(std::span<mem::Packet*> packets) noexcept {
  const unsigned wanted = static_cast<unsigned>(std::min<std::size_t>(packets.size(), batch_));
  if (wanted == 0) return 0;
  arm_rx_slots(wanted);
  const unsigned posted = std::min(wanted, rx_armed_);
  // Pool empty: receive nothing; the datagrams wait in the socket buffer,
  // and if it overflows the kernel counts them (rx_drop_kernel).
  if (posted == 0) return 0;

  const int received = recvmmsg(fd_, rx_messages_.get(), posted, MSG_DONTWAIT, nullptr);
  // EAGAIN is the empty case; other errors (none are expected on a bound
  // UDP socket) leave no datagram behind to count.
  if (received <= 0) return 0;
  const auto count = static_cast<unsigned>(received);

  // The SO_RXQ_OVFL count is cumulative, so the newest message has it all.
  read_kernel_drops(rx_messages_[count - 1].msg_hdr);
  // One clock read per burst: the stamp of a datagram without a kernel one.
  const std::uint64_t poll_time_ns = rx_clock_.now_ns();
  unsigned delivered = 0;
  std::uint64_t bytes = 0;
  std::uint64_t truncated = 0;
  for (unsigned i = 0; i < count; ++i) {
    mem::Packet* packet = rx_packets_[i];
    const msghdr& message = rx_messages_[i].msg_hdr;
    if ((message.msg_flags & MSG_TRUNC) != 0) {
      // Longer than a buffer: the kernel cut it (recvmsg(2)). Rare, so the
      // buffer is freed here rather than kept armed.
      ++truncated;
      pool_.free_bulk({&packet, 1}, &cache_);
      continue;
    }
    finish_frame(*packet, rx_sources_[i], rx_messages_[i].msg_len);
    packet->timestamp = kernel_timestamp(message, poll_time_ns);
    bytes += packet->length();
    packets[delivered++] = packet;
  }

  // Slots [0, count) gave their buffers away. Refill the holes from the
  // tail of the armed slots, so that [0, rx_armed_) stays armed without
  // moving more than `count` entries: if k = rx_armed_ - count buffers
  // remain, the last min(count, k) of them move to the front.
  const unsigned remaining = rx_armed_ - count;
  const unsigned moved = std::min(count, remaining);
  for (unsigned j = 0; j < moved; ++j) {
    rx_packets_[j] = rx_packets_[rx_armed_ - 1 - j];
    rx_iovecs_[j] = rx_iovecs_[rx_armed_ - 1 - j];
  }
  for (unsigned i = 0; i < count; ++i) reset_rx_slot(i);
  rx_armed_ = remaining;

  counters_.rx_packets.add(delivered);
  counters_.rx_bytes.add(bytes);
  if (truncated != 0) counters_.rx_drop_truncated.add(truncated);
  return delivered;
}

void UdpQueue::arm_rx_slots(unsigned wanted) noexcept {
  if (rx_armed_ >= wanted) return;
  const unsigned got = pool_.alloc_bulk({rx_packets_.get() + rx_armed_, wanted - rx_armed_}, &cache_);
  for (unsigned i = rx_armed_; i < rx_armed_ + got; ++i) {
    rx_iovecs_[i].iov_base = rx_packets_[i]->data() + net::udp_frame_header_size;
    rx_iovecs_[i].iov_len = max_payload_;
  }
  rx_armed_ += got;
}

void UdpQueue::read_kernel_drops(const msghdr& message) noexcept {
  // The cmsg is present only once the socket has dropped something
  // (net/core/sock.c, sock_recv_drops).
  auto& readable = const_cast<msghdr&>(message);  // CMSG_* take a non-const msghdr
  for (cmsghdr* control = CMSG_FIRSTHDR(&readable); control != nullptr; control = CMSG_NXTHDR(&readable, control)) {
    if (control->cmsg_level != SOL_SOCKET || control->cmsg_type != SO_RXQ_OVFL) continue;
    std::uint32_t total = 0;
    std::memcpy(&total, CMSG_DATA(control), sizeof total);
    // Unsigned subtraction: right across the 32-bit wrap, and 0 for an
    // older datagram that was queued before the newest drops.
    const std::uint32_t fresh = total - kernel_drops_seen_;
    if (fresh != 0 && fresh < 0x80000000u) {
      counters_.rx_drop_kernel.add(fresh);
      kernel_drops_seen_ = total;
    }
  }
}

std::uint64_t UdpQueue::kernel_timestamp(const msghdr& message, std::uint64_t poll_time_ns) noexcept {
  auto& readable = const_cast<msghdr&>(message);  // CMSG_* take a non-const msghdr
  for (cmsghdr* control = CMSG_FIRSTHDR(&readable); control != nullptr; control = CMSG_NXTHDR(&readable, control)) {
    if (control->cmsg_level != SOL_SOCKET || control->cmsg_type != SO_TIMESTAMPNS) continue;
    timespec stamp{};
    std::memcpy(&stamp, CMSG_DATA(control), sizeof stamp);
    const std::uint64_t realtime_ns =
        static_cast<std::uint64_t>(stamp.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(stamp.tv_nsec);
    return rx_clock_.from_realtime_ns(realtime_ns);
  }
  timestamp_fallbacks_.add(1);
  return poll_time_ns;
}

void UdpQueue::finish_frame(mem::Packet& packet, const sockaddr_in& source, std::size_t payload_size) noexcept {
  net::UdpEndpoint sender;
  sender.ip_be = source.sin_addr.s_addr;
  sender.port_be = source.sin_port;
  // The buffer holds 42 + max_payload_ >= 60 bytes, so this never returns
  // 0; frames under 60 bytes are zero-padded, as on a wire.
  const std::size_t length =
      net::write_udp_headers({packet.data(), net::udp_frame_header_size + max_payload_}, sender, local_, payload_size);
  (void)packet.set_length(static_cast<std::uint16_t>(length));
  packet.port = port_id_;
  packet.queue = 0;
}

}  // namespace aether::backends::udp
