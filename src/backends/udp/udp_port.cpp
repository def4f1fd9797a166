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
          std::uint16_t port_id, net::ReadinessFd interrupt)
      : info_(std::move(info)),
        busy_poll_us_(socket.busy_poll_active() ? config.busy_poll_us : 0),
        socket_(std::move(socket)),
        queue_(socket_, pool, config, port_id, std::move(interrupt)) {}

  [[nodiscard]] const net::PortInfo& info() const noexcept override { return info_; }
  [[nodiscard]] net::Queue& queue(unsigned /*index*/) noexcept override { return queue_; }
  [[nodiscard]] net::LinkState link_state() const override { return socket_.link_state(); }

  [[nodiscard]] std::vector<net::XStat> xstats() const override {
    return {{"multicast_groups", socket_.multicast_groups()},
            {"rx_timestamp_fallbacks", queue_.rx_timestamp_fallbacks()},
            {"busy_poll_us", busy_poll_us_},
            {"tx_foreign_frees", queue_.tx_foreign_frees()}};
  }
  [[nodiscard]] net::RxTimestampSource rx_timestamp_source() const noexcept override {
    return net::RxTimestampSource::kernel;
  }
  [[nodiscard]] Result<void> join_multicast(std::uint32_t group_be) override { return with_spec(socket_.join_multicast(group_be)); }
  [[nodiscard]] Result<void> leave_multicast(std::uint32_t group_be) override {
    return with_spec(socket_.leave_multicast(group_be));
  }
  [[nodiscard]] Result<void> set_promiscuous(bool /*enabled*/) override {
    return Error{std::make_error_code(std::errc::operation_not_supported),
                 fmt::format("port '{}': a UDP socket receives only datagrams addressed to it and has no promiscuous "
                             "mode; use an L2 port (afpacket, afxdp) on the interface",
                             info_.spec)};
  }

 private:
  [[nodiscard]] Result<void> with_spec(Result<void> done) const {
    if (done) return done;
    return Error{done.error().code, fmt::format("port '{}': {}", info_.spec, done.error().message)};
  }

  net::PortInfo info_;
  std::uint64_t busy_poll_us_;
  udp::UdpSocket socket_;  // declared before queue_: the queue goes first, then the socket closes
  udp::UdpQueue queue_;
};

std::string describe_mode(const UdpPortConfig& config, const udp::UdpSocket& socket) {
  std::string mode = config.wait == UdpWait::block ? "block (the worker sleeps on the socket)" : "spin";
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
  net::ReadinessFd interrupt;
  if (config->wait == UdpWait::block) {
    auto watched = net::ReadinessFd::watch(socket->fd(), fmt::format("port '{}'", spec.text));
    if (!watched) return std::move(watched).error();
    interrupt = std::move(*watched);
  }
  return std::unique_ptr<net::Port>(std::make_unique<UdpPort>(std::move(info), std::move(*socket), *options.pool,
                                                              *config, options.port_id, std::move(interrupt)));
}

}  // namespace aether::backends
