// Connection: receiving and refusing messages, and building the queue
// bindings. The role-specific halves are in connection_server.cpp and
// connection_client.cpp.
#include "connection.hpp"

#include <cerrno>

#include "aether/core/log.hpp"
#include "control_socket.hpp"

namespace aether::backends::memif {

Connection::Connection(FileDescriptor socket, const ConnectionSettings& settings)
    : settings_(settings),
      socket_(std::move(socket)),
      bindings_(settings.queues),
      rx_event_fds_(settings.queues, -1) {}

Connection::~Connection() = default;

Result<void> Connection::send(const Message& message, int attached_fd) {
  return send_message(socket_.get(), encode_message(message), attached_fd);
}

Connection::Event Connection::fail(const std::string& reason) {
  if (state_ != State::closed) {
    (void)send(DisconnectMessage{0, reason});  // best effort: the peer may be gone already
    state_ = State::closed;
    close_reason_ = reason;
    closed_by_peer_ = false;
  }
  return Event::closed;
}

Connection::Event Connection::peer_closed(const std::string& reason) {
  state_ = State::closed;
  close_reason_ = reason;
  closed_by_peer_ = true;
  return Event::closed;
}

void Connection::disconnect(const std::string& reason) { (void)fail(reason); }

Connection::Event Connection::on_readable() {
  if (state_ == State::closed) return Event::closed;
  auto received = receive_message(socket_.get());
  if (!received) {
    if (received.error().code == std::errc::resource_unavailable_try_again) return Event::none;
    return peer_closed(received.error().describe());
  }
  if (received->end_of_stream) return peer_closed("peer closed the control socket");
  if (received->truncated || received->size != kMessageSize) {
    return fail(fmt::format("Invalid message size {}{}", received->size, received->truncated ? " (truncated)" : ""));
  }
  if (received->fd_count > 1) return fail(fmt::format("{} file descriptors in one message", received->fd_count));
  auto message = decode_message(received->bytes);
  if (!message) return fail(message.error().message);
  if (settings_.role == MemifRole::server) return on_server_message(*message, std::move(received->fd));
  if (received->fd.valid()) {
    return fail(fmt::format("Unexpected file descriptor with {}", message_name(type_of(*message))));
  }
  return on_client_message(*message);
}

Result<void> Connection::bind_rings(const std::vector<RingPlacement>& placements) {
  // Rings live in regions already in regions_; the handshake checked that
  // each lies inside its region and is aligned.
  for (std::size_t i = 0; i < placements.size(); ++i) {
    const RingPlacement& placement = placements[i];
    const RegionView& region = regions_[placement.region];
    const RingView view(region.base + placement.offset, placement.log2_ring_size);
    const char* direction = placement.type == RingType::client_to_server ? "C2S" : "S2C";
    if (view.load_cookie() != kRingCookie) {
      return invalid_argument(fmt::format("Wrong ring cookie {:#x} on {} ring {}", view.load_cookie(), direction,
                                          placement.index));
    }
    const bool we_receive = (placement.type == RingType::client_to_server) == (settings_.role == MemifRole::server);
    QueueBinding& binding = bindings_[placement.index];
    binding.regions = &regions_;
    if (we_receive) {
      binding.rx_ring = view;
      rx_event_fds_[placement.index] = rings_[i].event_fd.get();
      // Before the peer hears CONNECTED, as DPDK's memif_connect does: the
      // queue's worker would set it only at its next burst.
      view.store_flags(settings_.interrupt_mode ? 0 : kRingFlagMaskInterrupt);
    } else {
      binding.tx_ring = view;
      binding.tx_event_fd = rings_[i].event_fd.get();
    }
    log2_ring_size_ = placement.log2_ring_size;
  }
  return {};
}

std::string Connection::peer_name() const {
  if (server_) return server_->peer_name();
  if (client_) return client_->peer_name();
  return {};
}

std::string Connection::peer_interface_name() const {
  if (server_) return server_->peer_interface_name();
  if (client_) return client_->peer_interface_name();
  return {};
}

unsigned Connection::rx_rings() const noexcept {
  unsigned count = 0;
  for (const auto& binding : bindings_) count += binding.rx_ring.valid() ? 1 : 0;
  return count;
}

unsigned Connection::tx_rings() const noexcept {
  unsigned count = 0;
  for (const auto& binding : bindings_) count += binding.tx_ring.valid() ? 1 : 0;
  return count;
}

}  // namespace aether::backends::memif
