// Connection: one control connection with a peer, from the first message
// to DISCONNECT, and the shared memory that lives as long as it does.
//
// It turns datagrams into messages (messages.hpp), asks the handshake
// (handshake.hpp) what each means, and does what it cannot: receiving and
// checking fds, creating (client) or mapping (server) regions and rings,
// and building one QueueBinding per queue pair once the link is up.
// Any refusal ends the connection with a DISCONNECT naming the reason.
// Control thread only; the queues must be detached before it is destroyed.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aether/backends/memif_port.hpp"
#include "aether/core/result.hpp"
#include "aether/mem/mempool.hpp"
#include "file_descriptor.hpp"
#include "handshake.hpp"
#include "queue.hpp"
#include "shared_memory.hpp"

namespace aether::backends::memif {

struct ConnectionSettings {
  MemifRole role = MemifRole::client;
  std::uint32_t id = 0;
  unsigned queues = 1;
  unsigned log2_ring_size = 10;
  unsigned buffer_size = 2048;  // client, copy mode
  bool zero_copy = false;       // client: lend `pool` as region 1
  bool interrupt_mode = false;
  std::optional<std::array<std::uint8_t, kSecretSize>> secret;
  std::string name = "aether";  // our HELLO/INIT and CONNECT/CONNECTED names
  mem::Mempool* pool = nullptr;
};

class Connection {
 public:
  enum class Event { none, connected, closed };

  // Server side of an accepted socket: sends HELLO.
  [[nodiscard]] static Result<std::unique_ptr<Connection>> accept(FileDescriptor socket,
                                                                  const ConnectionSettings& settings);
  // Client side of a connected socket: waits for HELLO.
  [[nodiscard]] static std::unique_ptr<Connection> connect(FileDescriptor socket, const ConnectionSettings& settings);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  [[nodiscard]] int socket() const noexcept { return socket_.get(); }
  // Reads and handles one message (or the peer hanging up).
  [[nodiscard]] Event on_readable();
  // Ends the connection from this side: DISCONNECT(reason), best effort.
  void disconnect(const std::string& reason);

  [[nodiscard]] bool connected() const noexcept { return state_ == State::connected; }
  [[nodiscard]] bool closed() const noexcept { return state_ == State::closed; }
  [[nodiscard]] const std::string& close_reason() const noexcept { return close_reason_; }
  [[nodiscard]] bool closed_by_peer() const noexcept { return closed_by_peer_; }

  // Once connected: the binding of each queue pair (rings it lacks are
  // invalid views), and the eventfd the peer writes for its rx ring.
  [[nodiscard]] const QueueBinding& binding(unsigned queue) const noexcept { return bindings_[queue]; }
  [[nodiscard]] int rx_event_fd(unsigned queue) const noexcept { return rx_event_fds_[queue]; }

  [[nodiscard]] std::string peer_name() const;
  [[nodiscard]] std::string peer_interface_name() const;
  [[nodiscard]] unsigned rx_rings() const noexcept;
  [[nodiscard]] unsigned tx_rings() const noexcept;
  [[nodiscard]] unsigned log2_ring_size() const noexcept { return log2_ring_size_; }

 private:
  enum class State { handshaking, connected, closed };

  struct Ring {
    RingPlacement placement;
    FileDescriptor event_fd;
  };

  Connection(FileDescriptor socket, const ConnectionSettings& settings);

  Event fail(const std::string& reason);  // local refusal: DISCONNECT, closed
  Event peer_closed(const std::string& reason);
  Result<void> send(const Message& message, int attached_fd = -1);

  Event on_server_message(const Message& message, FileDescriptor fd);
  Event on_client_message(const Message& message);
  Result<void> create_client_resources(const Negotiated& negotiated);
  Result<void> send_client_message(const Outgoing& outgoing);
  Result<void> bind_rings(const std::vector<RingPlacement>& placements);

  ConnectionSettings settings_;
  FileDescriptor socket_;
  State state_ = State::handshaking;
  std::optional<ServerHandshake> server_;
  std::optional<ClientHandshake> client_;

  std::vector<PeerRegion> peer_regions_;  // server: what the client sent
  std::optional<OwnedRegion> own_region_;  // client: region 0 (rings, and buffers in copy mode)
  std::vector<Ring> rings_;                // in ADD_RING order
  RegionTable regions_;
  unsigned log2_ring_size_ = 0;
  std::uint32_t buffers_offset_ = 0;  // client copy mode: where region 0's buffers start

  std::vector<QueueBinding> bindings_;
  std::vector<int> rx_event_fds_;
  std::string close_reason_;
  bool closed_by_peer_ = false;
};

}  // namespace aether::backends::memif
