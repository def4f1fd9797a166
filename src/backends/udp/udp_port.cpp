// The udp Port: one socket, one queue pair, and how it was opened.
#include <arpa/inet.h>

#include <fmt/format.h>

#include "aether/backends/udp_port.hpp"
#include "aether/mem/mempool.hpp"
#include "udp_queue.hpp"
#include "udp_socket.hpp"

namespace aether::backends {
namespace {

class UdpPort final : public net::Port {
 public:
  UdpPort(net::PortInfo info, udp::UdpSocket socket, mem::Mempool& pool, const UdpPortConfig& config,
          std::uint16_t port_id)
      : info_(std::move(info)), socket_(std::move(socket)), queue_(socket_, pool, config, port_id) {}

  [[nodiscard]] const net::PortInfo& info() const noexcept override { return info_; }
  [[nodiscard]] net::Queue& queue(unsigned /*index*/) noexcept override { return queue_; }
  [[nodiscard]] net::LinkState link_state() const override { return socket_.link_state(); }

 private:
  net::PortInfo info_;
  udp::UdpSocket socket_;  // declared before queue_: the queue goes first, then the socket closes
  udp::UdpQueue queue_;
};

std::string describe_mode(const UdpPortConfig& config, const udp::UdpSocket& socket) {
  std::string mode = config.wait == UdpWait::block ? "block (poll)" : "spin";
  mode += fmt::format(", recvmmsg/sendmmsg batch {}", config.batch);
  if (socket.busy_poll_active()) mode += fmt::format(", SO_BUSY_POLL {} us", config.busy_poll_us);
  return mode;
}

}  // namespace

Result<std::unique_ptr<net::Port>> open_udp_port(const net::PortSpec& spec, const net::PortOptions& options) {
  auto config = parse_udp_port_config(spec);
  if (!config) return std::move(config).error();
  if (options.pool == nullptr) return invalid_argument(fmt::format("port '{}': no mempool given", spec.text));
  if (options.pool->data_room() < net::min_ethernet_frame) {
    return invalid_argument(fmt::format("port '{}': pool '{}' has {} bytes of data room; udp needs at least {}",
                                        spec.text, options.pool->name(), options.pool->data_room(),
                                        net::min_ethernet_frame));
  }

  net::PortInfo info;
  auto socket = udp::UdpSocket::open(*config, info.notes);
  if (!socket) return Error{socket.error().code, fmt::format("port '{}': {}", spec.text, socket.error().message)};

  info.spec = spec.text;
  info.kind = "udp";
  info.interface = fmt::format("{}:{}", net::format_ipv4_be(socket->ip_be()), ntohs(socket->port_be()));
  info.mode = describe_mode(*config, *socket);
  info.queue_count = 1;
  info.mtu = socket->mtu();
  // 28 = IPv4 + UDP headers: the payload an mtu-sized datagram carries.
  const std::size_t payload_limit = options.pool->data_room() - net::udp_frame_header_size;
  if (payload_limit + 28 < info.mtu) {
    info.notes.push_back(
        fmt::format("buffers hold {} payload bytes, less than mtu {} allows; longer datagrams are "
                    "dropped and counted rx_drop_truncated",
                    payload_limit, info.mtu));
  }
  return std::unique_ptr<net::Port>(
      std::make_unique<UdpPort>(std::move(info), std::move(*socket), *options.pool, *config, options.port_id));
}

}  // namespace aether::backends
