// Connection, server side: HELLO out, then the client's INIT, regions,
// rings and CONNECT in; every fd checked as it arrives, every ring checked
// (cookie) before CONNECTED.
#include <fmt/format.h>

#include "connection.hpp"
#include "control_socket.hpp"

namespace aether::backends::memif {

Result<std::unique_ptr<Connection>> Connection::accept(FileDescriptor socket, const ConnectionSettings& settings) {
  std::unique_ptr<Connection> connection(new Connection(std::move(socket), settings));
  ServerSettings server;
  server.id = settings.id;
  server.queues = settings.queues;
  server.max_log2_ring_size = settings.log2_ring_size;
  server.secret = settings.secret;
  server.name = settings.name;
  connection->server_.emplace(std::move(server));
  if (auto sent = connection->send(connection->server_->hello()); !sent) return std::move(sent).error();
  return connection;
}

Connection::Event Connection::on_server_message(const Message& message, FileDescriptor fd) {
  auto action = server_->on_message(message, fd.valid());
  if (!action) return fail(action.error().message);
  switch (*action) {
    case ServerHandshake::Action::none:
      return Event::none;
    case ServerHandshake::Action::peer_disconnected:
      return peer_closed(server_->peer_disconnect()->reason);
    case ServerHandshake::Action::reply_ack:
      if (const auto* region = std::get_if<AddRegionMessage>(&message)) {
        auto mapped = map_peer_region(std::move(fd), region->size);
        if (!mapped) return fail(mapped.error().message);
        regions_.set(region->index, RegionView{mapped->mapping.base(), mapped->size});
        peer_regions_.push_back(std::move(*mapped));
      } else if (std::holds_alternative<AddRingMessage>(message)) {
        if (auto checked = check_peer_eventfd(fd.get()); !checked) return fail(checked.error().message);
        rings_.push_back(Ring{server_->rings().back(), std::move(fd)});
      }
      if (auto sent = send(AckMessage{}); !sent) return peer_closed(sent.error().describe());
      return Event::none;
    case ServerHandshake::Action::map_and_connect: {
      if (auto bound = bind_rings(server_->rings()); !bound) return fail(bound.error().message);
      if (auto sent = send(ConnectedMessage{settings_.name}); !sent) return peer_closed(sent.error().describe());
      server_->mark_connected();
      state_ = State::connected;
      return Event::connected;
    }
  }
  return Event::none;
}

}  // namespace aether::backends::memif
