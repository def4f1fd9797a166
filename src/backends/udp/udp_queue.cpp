// UdpQueue construction and teardown: the control-path half of the queue.
#include "udp_queue.hpp"

#include <algorithm>

namespace aether::backends::udp {
namespace {

// The largest UDP payload in one IPv4 datagram: 65535 - 20 (IPv4) - 8 (UDP).
constexpr std::size_t kMaxUdpPayload = 65507;

}  // namespace

UdpQueue::UdpQueue(UdpSocket& socket, mem::Mempool& pool, const UdpPortConfig& config, std::uint16_t port_id,
                   net::ReadinessFd interrupt)
    : fd_(socket.fd()),
      pool_(pool),
      cache_(pool),
      interrupt_(std::move(interrupt)),
      rx_clock_(net::RxClock::process()),
      batch_(config.batch),
      port_id_(port_id),
      max_payload_(std::min(pool.data_room() - net::udp_frame_header_size, kMaxUdpPayload)),
      rx_messages_(new mmsghdr[config.batch]()),
      rx_iovecs_(new iovec[config.batch]()),
      rx_sources_(new sockaddr_in[config.batch]()),
      rx_controls_(new ControlBuffer[config.batch]()),
      rx_packets_(new mem::Packet*[config.batch]()),
      tx_messages_(new mmsghdr[config.batch]()),
      tx_iovecs_(new iovec[config.batch]()),
      tx_destinations_(new sockaddr_in[config.batch]()),
      tx_packet_of_message_(new unsigned[config.batch]()) {
  local_.ip_be = socket.ip_be();
  local_.port_be = socket.port_be();
  // Message i always uses the same iovec, name and control buffer; only
  // the iovec's target and the lengths the kernel rewrites change later.
  for (unsigned i = 0; i < batch_; ++i) {
    msghdr& rx = rx_messages_[i].msg_hdr;
    rx.msg_iov = &rx_iovecs_[i];
    rx.msg_iovlen = 1;
    rx.msg_name = &rx_sources_[i];
    rx.msg_control = rx_controls_[i].bytes;
    reset_rx_slot(i);
    msghdr& tx = tx_messages_[i].msg_hdr;
    tx.msg_iov = &tx_iovecs_[i];
    tx.msg_iovlen = 1;
    tx.msg_name = &tx_destinations_[i];
    tx.msg_namelen = sizeof(sockaddr_in);
    tx_destinations_[i].sin_family = AF_INET;
  }
}

UdpQueue::~UdpQueue() {
  // Armed buffers go back before the cache (a member) returns its own.
  pool_.free_bulk({rx_packets_.get(), rx_armed_}, &cache_);
}

void UdpQueue::reset_rx_slot(unsigned slot) noexcept {
  // recvmmsg rewrites these three in every message it fills.
  msghdr& message = rx_messages_[slot].msg_hdr;
  message.msg_namelen = sizeof(sockaddr_in);
  message.msg_controllen = kControlSize;
  message.msg_flags = 0;
}

}  // namespace aether::backends::udp
