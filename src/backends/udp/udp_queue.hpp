// UdpQueue: the udp port's one queue pair, recvmmsg/sendmmsg into and out
// of Packet buffers. rx in udp_rx.cpp, tx in udp_tx.cpp.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <span>

#include "aether/backends/udp_port.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/mem/mempool_cache.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/port.hpp"
#include "aether/net/readiness_fd.hpp"
#include "aether/net/rx_clock.hpp"
#include "udp_socket.hpp"

namespace aether::backends::udp {

class UdpQueue final : public net::Queue {
 public:
  // Every array below is sized `config.batch` here, on the control path;
  // the bursts only index into them. `interrupt` is the socket's readiness
  // fd in wait=block, empty (fd -1) in wait=spin.
  UdpQueue(UdpSocket& socket, mem::Mempool& pool, const UdpPortConfig& config, std::uint16_t port_id,
           net::ReadinessFd interrupt);
  ~UdpQueue() override;
  UdpQueue(const UdpQueue&) = delete;
  UdpQueue& operator=(const UdpQueue&) = delete;

  unsigned rx_burst(std::span<mem::Packet*> packets) noexcept override;
  unsigned tx_burst(std::span<mem::Packet*> packets) noexcept override;
  // wait=block: an epoll fd readable while the socket is (ReadinessFd).
  [[nodiscard]] int rx_interrupt_fd() const noexcept override { return interrupt_.fd(); }

  // Datagrams that carried no SO_TIMESTAMPNS cmsg and were stamped with the
  // poll time instead (an xstat; 0 in practice).
  [[nodiscard]] std::uint64_t rx_timestamp_fallbacks() const noexcept { return timestamp_fallbacks_.get(); }
  // Sent frames of another pool, freed to it without a cache (xstat tx_foreign_frees).
  [[nodiscard]] std::uint64_t tx_foreign_frees() const noexcept { return foreign_frees_.get(); }

 private:
  // The cmsgs each datagram may carry: SO_RXQ_OVFL, a 32-bit count
  // (socket(7)), and SO_TIMESTAMPNS, a timespec of CLOCK_REALTIME.
  static constexpr std::size_t kControlSize = CMSG_SPACE(sizeof(std::uint32_t)) + CMSG_SPACE(sizeof(timespec));
  struct alignas(cmsghdr) ControlBuffer {
    unsigned char bytes[kControlSize];
  };

  // rx (udp_rx.cpp)
  void arm_rx_slots(unsigned wanted) noexcept;
  void reset_rx_slot(unsigned slot) noexcept;
  void read_kernel_drops(const msghdr& message) noexcept;
  // The datagram's SO_TIMESTAMPNS on RxClock's scale, or `poll_time_ns`.
  [[nodiscard]] std::uint64_t kernel_timestamp(const msghdr& message, std::uint64_t poll_time_ns) noexcept;
  void finish_frame(mem::Packet& packet, const sockaddr_in& source, std::size_t payload_size) noexcept;

  // tx (udp_tx.cpp)
  unsigned send_chunk(std::span<mem::Packet*> chunk) noexcept;

  const int fd_;
  mem::Mempool& pool_;
  mem::MempoolCache cache_;
  const net::ReadinessFd interrupt_;
  const net::RxClock& rx_clock_;
  const unsigned batch_;
  const std::uint16_t port_id_;
  const std::size_t max_payload_;
  net::UdpEndpoint local_;  // the destination written into received frames

  // rx slot i receives into rx_packets_[i]: its iovec points at the
  // packet's data() + 42. Slots [0, rx_armed_) hold buffers; they stay
  // armed across bursts, so an empty poll costs one syscall and no writes.
  std::unique_ptr<mmsghdr[]> rx_messages_;
  std::unique_ptr<iovec[]> rx_iovecs_;
  std::unique_ptr<sockaddr_in[]> rx_sources_;
  std::unique_ptr<ControlBuffer[]> rx_controls_;
  std::unique_ptr<mem::Packet*[]> rx_packets_;
  unsigned rx_armed_ = 0;
  std::uint32_t kernel_drops_seen_ = 0;  // last SO_RXQ_OVFL value (cumulative, wraps)
  net::QueueCounters::Counter timestamp_fallbacks_;
  net::QueueCounters::Counter foreign_frees_;

  // tx message j sends packet tx_packet_of_message_[j] of the current chunk.
  std::unique_ptr<mmsghdr[]> tx_messages_;
  std::unique_ptr<iovec[]> tx_iovecs_;
  std::unique_ptr<sockaddr_in[]> tx_destinations_;
  std::unique_ptr<unsigned[]> tx_packet_of_message_;
};

}  // namespace aether::backends::udp
