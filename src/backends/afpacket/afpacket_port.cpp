// The afpacket Port: an rx socket, a tx socket, one queue pair, and the
// order in which they are set up.
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include <fmt/format.h>

#include "aether/backends/afpacket_port.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/link_membership.hpp"
#include "afpacket_queue.hpp"
#include "packet_socket.hpp"

namespace aether::backends {
namespace {

using afpacket::PacketSocket;

class AfPacketPort final : public net::Port {
 public:
  AfPacketPort(net::PortInfo info, PacketSocket rx_socket, PacketSocket tx_socket, net::LinkMembership membership,
               mem::Mempool& pool, unsigned version, std::uint16_t port_id)
      : info_(std::move(info)),
        rx_socket_(std::move(rx_socket)),
        tx_socket_(std::move(tx_socket)),
        membership_(std::move(membership)) {
    // The format is chosen here, once: no version branch on the data path.
    if (version == 3) {
      queue_ = std::make_unique<afpacket::AfPacketQueueV3>(rx_socket_, tx_socket_, pool, info_.mtu, port_id);
    } else {
      queue_ = std::make_unique<afpacket::AfPacketQueueV2>(rx_socket_, tx_socket_, pool, info_.mtu, port_id);
    }
  }

  [[nodiscard]] const net::PortInfo& info() const noexcept override { return info_; }
  [[nodiscard]] net::Queue& queue(unsigned /*index*/) noexcept override { return *queue_; }
  [[nodiscard]] net::LinkState link_state() const override { return rx_socket_.link_state(); }

  [[nodiscard]] std::vector<net::XStat> xstats() const override {
    std::vector<net::XStat> out{{"rx_ring_freezes", queue_->rx_ring_freezes()},
                                {"tx_foreign_frees", queue_->tx_foreign_frees()}};
    membership_.append_xstats(out);
    return out;
  }
  [[nodiscard]] net::RxTimestampSource rx_timestamp_source() const noexcept override {
    return net::RxTimestampSource::kernel;
  }
  [[nodiscard]] Result<void> join_multicast(std::uint32_t group_be) override {
    return membership_.join_multicast(group_be);
  }
  [[nodiscard]] Result<void> leave_multicast(std::uint32_t group_be) override {
    return membership_.leave_multicast(group_be);
  }
  [[nodiscard]] Result<void> set_promiscuous(bool enabled) override { return membership_.set_promiscuous(enabled); }
  void set_interrupt(net::ReadinessFd interrupt) { queue_->set_interrupt(std::move(interrupt)); }

 private:
  net::PortInfo info_;
  PacketSocket rx_socket_;
  PacketSocket tx_socket_;
  net::LinkMembership membership_;
  std::unique_ptr<afpacket::AfPacketQueue> queue_;  // declared last: destroyed before the rings it reads
};

// The largest frame a TPACKET_V2 rx frame holds: the kernel puts the MAC
// header at TPACKET_ALIGN(tp_hdrlen + 16) - 14 (af_packet.c, tpacket_rcv:
// netoff = TPACKET_ALIGN(tp_hdrlen + max(maclen, 16)), macoff = netoff - maclen).
unsigned v2_rx_frame_room(unsigned frame_size) {
  constexpr unsigned mac_offset = TPACKET_ALIGN(TPACKET2_HDRLEN + 16) - ETH_HLEN;
  return frame_size > mac_offset ? frame_size - mac_offset : 0;
}

std::string describe_mode(const AfPacketConfig& config, const PacketSocket& rx, const PacketSocket& tx) {
  const auto& ring = rx.geometry();
  std::string mode;
  if (config.version == 3) {
    mode = fmt::format("TPACKET_V3 rx ring ({} blocks x {} B, retire {})", ring.block_count, ring.block_size,
                       config.block_timeout_ms == 0 ? std::string("chosen by the kernel")
                                                    : fmt::format("{} ms", config.block_timeout_ms));
  } else {
    mode = fmt::format("TPACKET_V2 rx ring ({} frames x {} B)", ring.frame_count, ring.frame_size);
  }
  mode += fmt::format(", TPACKET_V2 tx ring ({} frames x {} B), {}", tx.geometry().frame_count,
                      tx.geometry().frame_size, tx.qdisc_bypass_active() ? "qdisc bypass" : "through the qdisc");
  return mode;
}

// Everything the user should know about sizes that will cut frames.
void add_size_notes(const AfPacketConfig& config, const mem::Mempool& pool, net::PortInfo& info) {
  const unsigned wire_frame = info.mtu + ETH_HLEN;
  if (config.version == 2 && v2_rx_frame_room(config.frame_size) < wire_frame) {
    info.notes.push_back(
        fmt::format("rx frames hold {} bytes, less than mtu {} + {}: longer frames are counted "
                    "rx_drop_truncated (raise frame_size)",
                    v2_rx_frame_room(config.frame_size), info.mtu, ETH_HLEN));
  }
  if (config.frame_size - afpacket::kTxDataOffset < wire_frame) {
    info.notes.push_back(
        fmt::format("tx frames hold {} bytes, less than mtu {} + {}: longer frames are counted "
                    "tx_drop_bad_frame (raise frame_size)",
                    config.frame_size - afpacket::kTxDataOffset, info.mtu, ETH_HLEN));
  }
  if (pool.data_room() < wire_frame) {
    info.notes.push_back(
        fmt::format("pool '{}' buffers hold {} bytes, less than mtu {} + {}: longer frames are "
                    "counted rx_drop_truncated",
                    pool.name(), pool.data_room(), info.mtu, ETH_HLEN));
  }
}

Error with_spec(const net::PortSpec& spec, Error error) {
  error.message = fmt::format("port '{}': {}", spec.text, error.message);
  return error;
}

}  // namespace

Result<std::unique_ptr<net::Port>> open_afpacket_port(const net::PortSpec& spec, const net::PortOptions& options) {
  auto config = parse_afpacket_config(spec);
  if (!config) return std::move(config).error();
  if (options.pool == nullptr) return invalid_argument(fmt::format("port '{}': no mempool given", spec.text));

  net::PortInfo info;
  auto rx = PacketSocket::create(config->interface);
  if (!rx) return with_spec(spec, std::move(rx).error());
  auto interface = rx->query_interface();
  if (!interface) return with_spec(spec, std::move(interface).error());
  if (auto done = rx->setup_rx_ring(*config); !done) return with_spec(spec, std::move(done).error());
  // Frames this host sends on the interface (ours from the tx socket, the
  // stack's) are not received traffic (packet(7), since Linux 4.20).
  if (auto done = rx->set_option(PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING"); !done) {
    info.notes.push_back(
        fmt::format("{}; outgoing frames are skipped in the rx path instead", done.error().describe()));
  }
  // Binding last: the socket receives only from this interface, and only
  // once its ring is there.
  if (auto done = rx->bind_to(interface->index, ETH_P_ALL); !done) return with_spec(spec, std::move(done).error());

  auto tx = PacketSocket::create(config->interface);
  if (!tx) return with_spec(spec, std::move(tx).error());
  if (auto done = tx->setup_tx_ring(*config, info.notes); !done) return with_spec(spec, std::move(done).error());
  // Protocol 0: the tx socket takes no part in reception.
  if (auto done = tx->bind_to(interface->index, 0); !done) return with_spec(spec, std::move(done).error());

  info.spec = spec.text;
  info.kind = "afpacket";
  info.interface = config->interface;
  info.mode = describe_mode(*config, *rx, *tx);
  info.queue_count = 1;
  info.mac = interface->mac;
  info.mtu = interface->mtu;
  if (config->version == 2 && !spec.find("version")) {
    info.notes.push_back(
        "TPACKET_V2 chosen by default for latency: V3 hands frames over a block at a time, when the block is full "
        "or its retire timer (>= 1 ms) fires; version=3 suits throughput with fewer wake-ups");
  }
  add_size_notes(*config, *options.pool, info);
  auto membership = net::LinkMembership::open(config->interface, fmt::format("port '{}'", spec.text));
  if (!membership) return std::move(membership).error();
  net::ReadinessFd interrupt;
  if (config->wait_block) {
    auto watched = net::ReadinessFd::watch(rx->fd(), fmt::format("port '{}'", spec.text));
    if (!watched) return std::move(watched).error();
    interrupt = std::move(*watched);
    info.mode += ", wait=block (the worker sleeps on the rx socket)";
  }
  auto port = std::make_unique<AfPacketPort>(std::move(info), std::move(*rx), std::move(*tx), std::move(*membership),
                                             *options.pool, config->version, options.port_id);
  port->set_interrupt(std::move(interrupt));
  return std::unique_ptr<net::Port>(std::move(port));
}

}  // namespace aether::backends
