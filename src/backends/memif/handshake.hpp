// The memif connection handshake as two pure state machines, one per role:
// which message may come when, and whether its values fit this connection.
// No syscalls here: the driver (connection.cpp) owns sockets, fds and
// mappings and asks these classes what every received message means.
//
// Order (memif.rst "Connection establishment"; DPDK memif_socket.c):
//   server -> HELLO; client -> INIT; server -> ACK;
//   client -> ADD_REGION (+ region fd) per region, server -> ACK each;
//   client -> ADD_RING (+ eventfd) per ring, server -> ACK each;
//   client -> CONNECT; server maps, checks ring cookies -> CONNECTED.
//   DISCONNECT (code, reason) may come from either side at any time.
// The client sends one message and waits for its ACK before the next, as
// DPDK's queue does (memif_msg_send_from_queue sends one per event).
//
// A refusal is an Error whose message is the DISCONNECT reason, short
// enough for the 96-byte field. Header-only (see messages.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "messages.hpp"
#include "wire.hpp"

namespace aether::backends::memif {

// Refuses a region the size of which is absurd before anything maps it.
// Descriptor offsets are u32, so a region beyond 4 GiB + one buffer is
// never addressable in full; 2^40 leaves room for peers that map their
// whole hugepage memory as one region (DPDK zero-copy).
inline constexpr std::uint64_t kMaxRegionSize = std::uint64_t{1} << 40;

// Per-peer limits (issue 13): what one connection may make the server
// hold. Regions: HELLO advertises max_region = kMaxPeerRegions - 1 and more
// are refused; each carries one fd, each ring one more (at most 2 x queues,
// indices unique), so a connection holds at most kMaxPeerRegions + 2 x
// queues fds. Bytes: every ring the negotiated queues can have, plus one
// buffer of up to kMaxPeerBufferBytes per slot of each (a frame is at most
// 64 KiB), but never less than kMinPeerMappingBytes, so that a zero-copy
// client lending a whole mempool (Aether's, DPDK's) still fits.
inline constexpr unsigned kMaxPeerRegions = 64;
inline constexpr std::uint64_t kMaxPeerBufferBytes = 65536;
inline constexpr std::uint64_t kMinPeerMappingBytes = std::uint64_t{1} << 30;

[[nodiscard]] constexpr std::uint64_t peer_mapping_limit(unsigned queues, unsigned log2_ring_size) noexcept {
  const std::uint64_t rings = 2 * std::uint64_t{queues};
  const std::uint64_t needed = rings * ring_bytes(log2_ring_size) + (rings << log2_ring_size) * kMaxPeerBufferBytes;
  return std::max(needed, kMinPeerMappingBytes);
}
static_assert(kMaxPeerRegions <= kMaxRegions);

// Ring headers hold u16 indices read with 2-byte atomics and descriptors
// read as 8-byte words: a ring must start on a 16-byte boundary (every
// implementation places rings at multiples of ring_bytes(), itself a
// multiple of 16).
inline constexpr std::uint32_t kRingAlignment = 16;

struct RingPlacement {
  RingType type = RingType::client_to_server;
  std::uint16_t index = 0;
  std::uint16_t region = 0;
  std::uint32_t offset = 0;
  std::uint8_t log2_ring_size = 0;
};

// Why the handshake ended on the peer's side, if it did.
struct PeerDisconnect {
  std::uint32_t code = 0;
  std::string reason;
};

// DISCONNECT ends the handshake in any state, in either role.
[[nodiscard]] inline std::optional<PeerDisconnect> as_peer_disconnect(const Message& message) {
  const auto* disconnect = std::get_if<DisconnectMessage>(&message);
  if (disconnect == nullptr) return std::nullopt;
  return PeerDisconnect{disconnect->code, disconnect->reason};
}

// ---- Server (Aether listens). ------------------------------------------

struct ServerSettings {
  std::uint32_t id = 0;
  unsigned queues = 1;                 // rings accepted per direction
  unsigned max_log2_ring_size = 10;    // the largest ring accepted
  std::optional<std::array<std::uint8_t, kSecretSize>> secret;
  std::string name = "aether";         // HELLO name
};

class ServerHandshake {
 public:
  enum class Action {
    none,             // nothing to send (an ACK from the peer)
    reply_ack,        // send ACK
    map_and_connect,  // CONNECT: map the regions, check the rings, then send CONNECTED
    peer_disconnected,
  };

  explicit ServerHandshake(ServerSettings settings) : settings_(std::move(settings)) {}

  [[nodiscard]] HelloMessage hello() const {
    HelloMessage hello;
    hello.name = settings_.name;
    hello.min_version = kVersion;
    hello.max_version = kVersion;
    hello.max_region = static_cast<std::uint16_t>(kMaxPeerRegions - 1);
    hello.max_c2s_ring = static_cast<std::uint16_t>(settings_.queues - 1);
    hello.max_s2c_ring = static_cast<std::uint16_t>(settings_.queues - 1);
    hello.max_log2_ring_size = static_cast<std::uint8_t>(settings_.max_log2_ring_size);
    return hello;
  }

  // `has_fd`: the datagram carried one file descriptor (the driver refuses
  // datagrams with more before calling this).
  [[nodiscard]] Result<Action> on_message(const Message& message, bool has_fd) {
    const MessageType type = type_of(message);
    if (auto disconnect = as_peer_disconnect(message)) {
      peer_disconnect_ = std::move(disconnect);
      state_ = State::closed;
      return Action::peer_disconnected;
    }
    if (has_fd && type != MessageType::add_region && type != MessageType::add_ring) {
      return fail(fmt::format("Unexpected file descriptor with {}", message_name(type)));
    }
    if (type == MessageType::ack && state_ != State::closed) return Action::none;  // DPDK ignores ACKs too
    switch (state_) {
      case State::awaiting_init:
        if (type == MessageType::init) return on_init(std::get<InitMessage>(message));
        break;
      case State::awaiting_resources:
        if (type == MessageType::add_region) return on_add_region(std::get<AddRegionMessage>(message), has_fd);
        if (type == MessageType::add_ring) return on_add_ring(std::get<AddRingMessage>(message), has_fd);
        if (type == MessageType::connect) return on_connect(std::get<ConnectMessage>(message));
        break;
      case State::connecting:
      case State::connected:
      case State::closed:
        break;
    }
    return fail(fmt::format("Unexpected message {}", message_name(type)));
  }

  // The driver mapped everything and sent CONNECTED.
  void mark_connected() noexcept { state_ = State::connected; }
  [[nodiscard]] bool connected() const noexcept { return state_ == State::connected; }

  [[nodiscard]] const std::vector<std::uint64_t>& region_sizes() const noexcept { return region_sizes_; }
  [[nodiscard]] const std::vector<RingPlacement>& rings() const noexcept { return rings_; }
  [[nodiscard]] unsigned ring_count(RingType type) const noexcept {
    return static_cast<unsigned>(std::count_if(rings_.begin(), rings_.end(),
                                               [type](const RingPlacement& r) { return r.type == type; }));
  }
  [[nodiscard]] const std::string& peer_name() const noexcept { return peer_name_; }
  [[nodiscard]] const std::string& peer_interface_name() const noexcept { return peer_interface_name_; }
  [[nodiscard]] const std::optional<PeerDisconnect>& peer_disconnect() const noexcept { return peer_disconnect_; }

 private:
  enum class State { awaiting_init, awaiting_resources, connecting, connected, closed };

  Error fail(std::string reason) {
    state_ = State::closed;
    return invalid_argument(std::move(reason));
  }

  Result<Action> on_init(const InitMessage& init) {
    if (init.version != kVersion) {
      return fail(fmt::format("Incompatible memif version {}.{}", init.version >> 8, init.version & 0xff));
    }
    if (init.id != settings_.id) return fail(fmt::format("ID {} not found", init.id));
    if (settings_.secret) {
      if (init.secret[0] == 0) return fail("Secret required");
      if (init.secret != *settings_.secret) return fail("Incorrect secret");
    }
    peer_name_ = init.name;
    state_ = State::awaiting_resources;
    return Action::reply_ack;
  }

  Result<Action> on_add_region(const AddRegionMessage& region, bool has_fd) {
    if (!has_fd) return fail("Missing region fd");
    if (region.index >= kMaxPeerRegions) return fail(fmt::format("Too many regions (at most {})", kMaxPeerRegions));
    if (region.index != region_sizes_.size()) {
      return fail(fmt::format("Invalid region index {} (expected {})", region.index, region_sizes_.size()));
    }
    if (!rings_.empty()) return fail("Region added after rings");
    if (region.size == 0 || region.size > kMaxRegionSize) {
      return fail(fmt::format("Invalid region size {}", region.size));
    }
    // Before anything is mapped: the sizes so far plus this one.
    const std::uint64_t limit = peer_mapping_limit(settings_.queues, settings_.max_log2_ring_size);
    if (region.size > limit - region_bytes_) {
      return fail(fmt::format("Regions exceed {} bytes (limit for {} queues of 2^{})", limit, settings_.queues,
                              settings_.max_log2_ring_size));
    }
    region_bytes_ += region.size;
    region_sizes_.push_back(region.size);
    return Action::reply_ack;
  }

  Result<Action> on_add_ring(const AddRingMessage& ring, bool has_fd) {
    if (!has_fd) return fail("Missing interrupt fd");
    const char* direction = ring.type == RingType::client_to_server ? "C2S" : "S2C";
    if (ring.index >= settings_.queues) {
      return fail(fmt::format("Invalid ring index {} {} (at most {} rings)", direction, ring.index, settings_.queues));
    }
    for (const auto& existing : rings_) {
      if (existing.type == ring.type && existing.index == ring.index) {
        return fail(fmt::format("Duplicate ring {} {}", direction, ring.index));
      }
    }
    if (ring.log2_ring_size > settings_.max_log2_ring_size) {
      return fail(fmt::format("Invalid ring size 2^{} (at most 2^{})", ring.log2_ring_size,
                              settings_.max_log2_ring_size));
    }
    if (ring.region >= region_sizes_.size()) return fail(fmt::format("Invalid ring region {}", ring.region));
    if (ring.offset % kRingAlignment != 0) return fail(fmt::format("Misaligned ring offset {}", ring.offset));
    if (std::uint64_t{ring.offset} + ring_bytes(ring.log2_ring_size) > region_sizes_[ring.region]) {
      return fail(fmt::format("Ring {} {} outside region {}", direction, ring.index, ring.region));
    }
    rings_.push_back(RingPlacement{ring.type, ring.index, ring.region, ring.offset, ring.log2_ring_size});
    return Action::reply_ack;
  }

  Result<Action> on_connect(const ConnectMessage& connect) {
    // Each direction needs rings 0..k-1, k >= 1: indices are unique and
    // below `queues`, so k rings are contiguous iff the largest is k - 1.
    for (const RingType type : {RingType::client_to_server, RingType::server_to_client}) {
      unsigned count = 0;
      unsigned largest = 0;
      for (const auto& r : rings_) {
        if (r.type != type) continue;
        ++count;
        largest = std::max<unsigned>(largest, r.index);
      }
      if (count == 0 || largest + 1 != count) {
        return fail(fmt::format("Missing {} ring", type == RingType::client_to_server ? "C2S" : "S2C"));
      }
    }
    peer_interface_name_ = connect.interface_name;
    state_ = State::connecting;
    return Action::map_and_connect;
  }

  ServerSettings settings_;
  State state_ = State::awaiting_init;
  std::vector<std::uint64_t> region_sizes_;
  std::uint64_t region_bytes_ = 0;  // their sum
  std::vector<RingPlacement> rings_;
  std::string peer_name_;
  std::string peer_interface_name_;
  std::optional<PeerDisconnect> peer_disconnect_;
};

// ---- Client (Aether connects and owns the shared memory). --------------

struct ClientSettings {
  std::uint32_t id = 0;
  unsigned queues = 1;
  unsigned log2_ring_size = 10;
  unsigned regions = 1;  // regions this client will add (2 with zero copy)
  std::array<std::uint8_t, kSecretSize> secret{};
  std::string name = "aether";
};

// What the HELLO allowed: DPDK memif_msg_receive_hello takes
// min(max_*_ring + 1, configured) and min(max_log2_ring_size, configured).
struct Negotiated {
  unsigned c2s_rings = 0;
  unsigned s2c_rings = 0;
  unsigned log2_ring_size = 0;
};

// One message the client sends, and which fd travels with it.
struct Outgoing {
  enum class Fd { none, region, ring };
  Message message;
  Fd fd = Fd::none;
};

class ClientHandshake {
 public:
  enum class Action {
    none,
    prepare_resources,  // HELLO accepted: create regions and rings for negotiated(), then start()
    send_next,          // an ACK came: send next_outgoing()
    connected,          // CONNECTED: the link is up
    peer_disconnected,
  };

  explicit ClientHandshake(ClientSettings settings) : settings_(std::move(settings)) {}

  [[nodiscard]] Result<Action> on_message(const Message& message, bool has_fd) {
    const MessageType type = type_of(message);
    if (auto disconnect = as_peer_disconnect(message)) {
      peer_disconnect_ = std::move(disconnect);
      state_ = State::closed;
      return Action::peer_disconnected;
    }
    if (has_fd) return fail(fmt::format("Unexpected file descriptor with {}", message_name(type)));
    switch (state_) {
      case State::awaiting_hello:
        if (type == MessageType::hello) return on_hello(std::get<HelloMessage>(message));
        break;
      case State::awaiting_ack:
        if (type == MessageType::ack) {
          if (next_ >= outgoing_.size()) return fail("Unexpected message ACK");
          state_ = type_of(outgoing_[next_].message) == MessageType::connect ? State::awaiting_connected
                                                                              : State::awaiting_ack;
          return Action::send_next;
        }
        break;
      case State::awaiting_connected:
        if (type == MessageType::connected) {
          peer_interface_name_ = std::get<ConnectedMessage>(message).interface_name;
          state_ = State::connected;
          return Action::connected;
        }
        break;
      case State::preparing:
      case State::connected:
      case State::closed:
        break;  // nothing of ours awaits an answer: any message but DISCONNECT is a violation
    }
    return fail(fmt::format("Unexpected message {}", message_name(type)));
  }

  [[nodiscard]] const Negotiated& negotiated() const noexcept { return negotiated_; }

  // Queues INIT, the regions, the rings and CONNECT; returns INIT, the first
  // message to send. Precondition: on_message() returned prepare_resources.
  [[nodiscard]] const Outgoing& start(const std::vector<AddRegionMessage>& regions,
                                      const std::vector<AddRingMessage>& rings) {
    InitMessage init;
    init.id = settings_.id;
    init.secret = settings_.secret;
    init.name = settings_.name;
    queue(std::move(init), Outgoing::Fd::none);
    for (const auto& region : regions) queue(region, Outgoing::Fd::region);
    for (const auto& ring : rings) queue(ring, Outgoing::Fd::ring);
    queue(ConnectMessage{settings_.name}, Outgoing::Fd::none);
    state_ = State::awaiting_ack;
    return next_outgoing();
  }

  // The message to send now; advances. Precondition: start() or send_next.
  [[nodiscard]] const Outgoing& next_outgoing() noexcept { return outgoing_[next_++]; }

  [[nodiscard]] bool connected() const noexcept { return state_ == State::connected; }
  [[nodiscard]] const std::string& peer_name() const noexcept { return peer_name_; }
  [[nodiscard]] const std::string& peer_interface_name() const noexcept { return peer_interface_name_; }
  [[nodiscard]] const std::optional<PeerDisconnect>& peer_disconnect() const noexcept { return peer_disconnect_; }

 private:
  enum class State { awaiting_hello, preparing, awaiting_ack, awaiting_connected, connected, closed };

  Error fail(std::string reason) {
    state_ = State::closed;
    return invalid_argument(std::move(reason));
  }

  // Built in place: GCC 12 at -O2 warns (maybe-uninitialized, a false
  // positive) on a brace-initialised Outgoing holding a string variant.
  template <class M>
  void queue(M message, Outgoing::Fd fd) {
    Outgoing& out = outgoing_.emplace_back();
    out.message.emplace<M>(std::move(message));
    out.fd = fd;
  }

  Result<Action> on_hello(const HelloMessage& hello) {
    if (hello.min_version > kVersion || hello.max_version < kVersion) {
      return fail(fmt::format("Incompatible memif version (peer {}.{} to {}.{})", hello.min_version >> 8,
                              hello.min_version & 0xff, hello.max_version >> 8, hello.max_version & 0xff));
    }
    if (settings_.regions > unsigned{hello.max_region} + 1) {
      return fail(fmt::format("Peer accepts {} regions, {} needed", unsigned{hello.max_region} + 1, settings_.regions));
    }
    negotiated_.c2s_rings = std::min(settings_.queues, unsigned{hello.max_c2s_ring} + 1);
    negotiated_.s2c_rings = std::min(settings_.queues, unsigned{hello.max_s2c_ring} + 1);
    negotiated_.log2_ring_size = std::min(settings_.log2_ring_size, unsigned{hello.max_log2_ring_size});
    peer_name_ = hello.name;
    state_ = State::preparing;
    return Action::prepare_resources;
  }

  ClientSettings settings_;
  State state_ = State::awaiting_hello;
  Negotiated negotiated_;
  std::vector<Outgoing> outgoing_;
  std::size_t next_ = 0;
  std::string peer_name_;
  std::string peer_interface_name_;
  std::optional<PeerDisconnect> peer_disconnect_;
};

}  // namespace aether::backends::memif
