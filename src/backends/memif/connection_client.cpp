// Connection, client side: after HELLO, create the shared memory for what
// it allowed, announce it one message at a time, and wait for CONNECTED.
//
// Region 0 (memfd, ours): [C2S rings][S2C rings], then in copy mode one
// buffer of bsize bytes per slot of every ring, C2S rings' first (the
// layout of memif.rst "Shared memory format", as DPDK builds it).
// Zero copy: region 1 is the mempool's own memfd, so descriptors can name
// pool buffers directly.
#include <fmt/format.h>

#include <limits>

#include "connection.hpp"
#include "control_socket.hpp"

namespace aether::backends::memif {
namespace {

constexpr std::uint16_t kPoolRegion = 1;

}  // namespace

std::unique_ptr<Connection> Connection::connect(FileDescriptor socket, const ConnectionSettings& settings) {
  std::unique_ptr<Connection> connection(new Connection(std::move(socket), settings));
  ClientSettings client;
  client.id = settings.id;
  client.queues = settings.queues;
  client.log2_ring_size = settings.log2_ring_size;
  client.regions = settings.zero_copy ? 2 : 1;
  if (settings.secret) client.secret = *settings.secret;
  client.name = settings.name;
  connection->client_.emplace(std::move(client));
  return connection;
}

Connection::Event Connection::on_client_message(const Message& message) {
  auto action = client_->on_message(message, false);
  if (!action) return fail(action.error().message);
  switch (*action) {
    case ClientHandshake::Action::none:
      return Event::none;
    case ClientHandshake::Action::peer_disconnected:
      return peer_closed(client_->peer_disconnect()->reason);
    case ClientHandshake::Action::prepare_resources: {
      if (auto created = create_client_resources(client_->negotiated()); !created) {
        return fail(created.error().message);
      }
      std::vector<AddRegionMessage> regions{AddRegionMessage{0, own_region_->size}};
      if (settings_.zero_copy) regions.push_back(AddRegionMessage{kPoolRegion, settings_.pool->region().length()});
      std::vector<AddRingMessage> rings;
      for (const Ring& ring : rings_) {
        const RingPlacement& p = ring.placement;
        rings.push_back(AddRingMessage{p.type, p.index, p.region, p.offset, p.log2_ring_size});
      }
      if (auto sent = send_client_message(client_->start(regions, rings)); !sent) {
        return peer_closed(sent.error().describe());
      }
      return Event::none;
    }
    case ClientHandshake::Action::send_next:
      if (auto sent = send_client_message(client_->next_outgoing()); !sent) return peer_closed(sent.error().describe());
      return Event::none;
    case ClientHandshake::Action::connected: {
      std::vector<RingPlacement> placements;
      for (const Ring& ring : rings_) placements.push_back(ring.placement);
      if (auto bound = bind_rings(placements); !bound) return fail(bound.error().message);
      state_ = State::connected;
      return Event::connected;
    }
  }
  return Event::none;
}

Result<void> Connection::send_client_message(const Outgoing& outgoing) {
  int fd = -1;
  if (outgoing.fd == Outgoing::Fd::region) {
    const auto& region = std::get<AddRegionMessage>(outgoing.message);
    fd = region.index == 0 ? own_region_->fd.get() : settings_.pool->region().fd();
  } else if (outgoing.fd == Outgoing::Fd::ring) {
    const auto& ring = std::get<AddRingMessage>(outgoing.message);
    for (const Ring& candidate : rings_) {
      if (candidate.placement.type == ring.type && candidate.placement.index == ring.index) {
        fd = candidate.event_fd.get();
      }
    }
  }
  return send(outgoing.message, fd);
}

Result<void> Connection::create_client_resources(const Negotiated& negotiated) {
  const unsigned c2s = negotiated.c2s_rings;
  const unsigned s2c = negotiated.s2c_rings;
  const unsigned log2 = negotiated.log2_ring_size;
  const std::uint64_t ring_size = ring_bytes(log2);
  const std::uint64_t rings_end = (c2s + s2c) * ring_size;
  std::uint64_t region_size = rings_end;
  if (!settings_.zero_copy) {
    buffers_offset_ = static_cast<std::uint32_t>((rings_end + 63) / 64 * 64);
    const std::uint64_t buffers = std::uint64_t{c2s + s2c} << log2;
    region_size = buffers_offset_ + buffers * settings_.buffer_size;
    // Descriptor offsets are u32.
    if (region_size > std::numeric_limits<std::uint32_t>::max()) {
      return invalid_argument(fmt::format("Region of {} bytes exceeds 4 GiB (smaller rsize or bsize)", region_size));
    }
  }
  auto region = create_shared_region(fmt::format("aether-memif-{}", settings_.id), region_size);
  if (!region) return std::move(region).error();
  own_region_ = std::move(*region);
  regions_.set(0, RegionView{own_region_->mapping.base(), own_region_->size});
  if (settings_.zero_copy) {
    const auto& pool = settings_.pool->region();
    regions_.set(kPoolRegion, RegionView{pool.base(), pool.length()});
  }
  // C2S rings first, then S2C (memif.rst; DPDK memif_get_ring: ring i of
  // type t at (i + t * num_c2s) * ring_size).
  for (const RingType type : {RingType::client_to_server, RingType::server_to_client}) {
    const unsigned count = type == RingType::client_to_server ? c2s : s2c;
    for (unsigned i = 0; i < count; ++i) {
      const unsigned position = type == RingType::client_to_server ? i : c2s + i;
      const auto offset = static_cast<std::uint32_t>(position * ring_size);
      const RingView view(own_region_->mapping.base() + offset, log2);
      view.store_cookie(kRingCookie);
      // We receive on S2C: say now whether we poll, before the server can send.
      view.store_flags(type == RingType::server_to_client && !settings_.interrupt_mode ? kRingFlagMaskInterrupt : 0);
      auto event_fd = create_eventfd();
      if (!event_fd) return std::move(event_fd).error();
      rings_.push_back(Ring{RingPlacement{type, static_cast<std::uint16_t>(i), 0, offset,
                                          static_cast<std::uint8_t>(log2)},
                            std::move(*event_fd)});
    }
  }
  // Copy mode: every queue's slot buffers.
  if (!settings_.zero_copy) {
    const std::uint64_t per_ring = std::uint64_t{settings_.buffer_size} << log2;
    for (unsigned q = 0; q < settings_.queues; ++q) {
      bindings_[q].buffer_size = settings_.buffer_size;
      bindings_[q].tx_buffers_offset = static_cast<std::uint32_t>(buffers_offset_ + q * per_ring);
      bindings_[q].rx_buffers_offset = static_cast<std::uint32_t>(buffers_offset_ + (c2s + q) * per_ring);
    }
  } else {
    for (auto& binding : bindings_) binding.pool_region = kPoolRegion;
  }
  log2_ring_size_ = log2;
  return {};
}

}  // namespace aether::backends::memif
