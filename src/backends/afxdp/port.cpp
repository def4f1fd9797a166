// AfxdpPort: opening an AF_XDP port, negotiating its mode, and tearing it
// down in the right order.
#include <linux/if_xdp.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "aether/backends/afxdp_port.hpp"
#include "aether/core/log.hpp"
#include "aether/net/link_membership.hpp"
#include "buffer_ledger.hpp"
#include "interface.hpp"
#include "queue.hpp"
#include "socket.hpp"
#include "umem.hpp"
#include "xdp_program.hpp"

namespace aether::backends {
namespace {

using afxdp::AfxdpQueue;
using afxdp::AttachedMode;

// Room the queue keeps for itself in the pool: the fill ring gets at most a
// quarter, so the application's own buffers, the tx side and a second port
// on the same pool still fit.
constexpr std::size_t kFillShareDivisor = 4;
constexpr std::uint32_t kFillGranule = 64;  // the fill ring is topped up in multiples of this

class AfxdpPort final : public net::Port {
 public:
  AfxdpPort(mem::Mempool& pool, std::uint32_t queue_index) : queue_index_(queue_index), ledger_(pool) {}

  // Cleanup order (the reverse of set-up): socket, link (detaches the
  // program), program and map, UMEM, then the buffers the kernel held. The
  // members are declared so that implicit destruction runs in this order
  // too; the body spells it out because the order is the point.
  ~AfxdpPort() override {
    queue_.reset();                        // the data path; its MempoolCache flushes to the pool
    program_.remove_socket(queue_index_);  // no more redirects into the socket
    socket_.reset();                       // unmaps the rx/tx rings
    link_.detach();                        // the kernel detaches the XDP program
    program_ = afxdp::XdpProgram();        // program, then map
    umem_.reset();                         // closes the socket fd: socket released, UMEM unpinned
    ledger_.release_all();                 // fill/tx buffers the kernel held go back to the pool
  }

  [[nodiscard]] const net::PortInfo& info() const noexcept override { return info_; }
  [[nodiscard]] net::Queue& queue(unsigned /*index*/) noexcept override { return *queue_; }
  [[nodiscard]] net::LinkState link_state() const override {
    return afxdp::read_link_state(control_socket_.get(), info_.interface);
  }
  [[nodiscard]] std::vector<net::XStat> xstats() const override {
    std::vector<net::XStat> out;
    queue_->append_xstats(out);
    membership_.append_xstats(out);
    return out;
  }
  [[nodiscard]] net::RxTimestampSource rx_timestamp_source() const noexcept override {
    return net::RxTimestampSource::poll_time;
  }
  [[nodiscard]] Result<void> join_multicast(std::uint32_t group_be) override { return membership_.join_multicast(group_be); }
  [[nodiscard]] Result<void> leave_multicast(std::uint32_t group_be) override {
    return membership_.leave_multicast(group_be);
  }
  [[nodiscard]] Result<void> set_promiscuous(bool enabled) override { return membership_.set_promiscuous(enabled); }

  net::PortInfo info_;
  net::LinkMembership membership_;        // multicast and promiscuous memberships of the netdev
  std::uint32_t queue_index_;
  afxdp::FileDescriptor control_socket_;  // link state ioctls, answered in the port's namespace
  afxdp::BufferLedger ledger_;            // destroyed last
  std::unique_ptr<afxdp::Umem> umem_;
  afxdp::XdpProgram program_;
  afxdp::XdpLink link_;
  std::unique_ptr<afxdp::XskSocket> socket_;
  std::unique_ptr<AfxdpQueue> queue_;  // destroyed first
};

Error with_spec(const net::PortSpec& spec, Error error) {
  error.message = fmt::format("port '{}': {}", spec.text, error.message);
  return error;
}

// Creates the UMEM and binds the socket: XDP_ZEROCOPY first where it can
// work and is allowed, then XDP_COPY. Each attempt starts from a fresh UMEM:
// a failed bind leaves libxdp's UMEM with rings already configured, which a
// second bind on it would refuse.
Result<void> bind_socket(AfxdpPort& port, mem::Mempool& pool, const AfxdpOptions& options,
                         const afxdp::InterfaceFacts& facts, std::vector<std::string>& notes) {
  afxdp::XskSocketConfig config;
  config.interface = options.interface;
  config.queue = options.queue;
  config.ring_size = options.ring_size;
  const bool native = port.link_.mode() == AttachedMode::native;
  if (native && options.zero_copy != ZeroCopyMode::off) {
    auto umem = afxdp::Umem::create(pool, options.ring_size, options.interface);
    if (!umem) return std::move(umem).error();
    config.bind_flags = XDP_ZEROCOPY | XDP_USE_NEED_WAKEUP;
    auto socket = afxdp::XskSocket::create(**umem, config);
    if (socket) {
      port.umem_ = std::move(*umem);
      port.socket_ = std::move(*socket);
      return {};
    }
    if (options.zero_copy == ZeroCopyMode::on) return std::move(socket).error();
    notes.push_back(fmt::format("zero-copy refused{}: {}; using copy mode",
                                facts.driver.empty() ? "" : fmt::format(" by the {} driver", facts.driver),
                                socket.error().describe()));
  } else if (!native && options.zero_copy == ZeroCopyMode::automatic) {
    notes.emplace_back("generic (skb) XDP always copies: zero-copy not tried");
  }
  auto umem = afxdp::Umem::create(pool, options.ring_size, options.interface);
  if (!umem) return std::move(umem).error();
  config.bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP;
  auto socket = afxdp::XskSocket::create(**umem, config);
  if (!socket) return std::move(socket).error();
  port.umem_ = std::move(*umem);
  port.socket_ = std::move(*socket);
  return {};
}

}  // namespace

Result<std::unique_ptr<net::Port>> open_afxdp_port(const net::PortSpec& spec, const net::PortOptions& port_options) {
  auto parsed = parse_afxdp_options(spec);
  if (!parsed) return std::move(parsed).error();
  const AfxdpOptions& options = *parsed;
  if (port_options.pool == nullptr) return invalid_argument(fmt::format("port '{}': no mempool given", spec.text));
  mem::Mempool& pool = *port_options.pool;

  if (auto allowed = afxdp::check_capabilities(options.interface); !allowed) {
    return with_spec(spec, std::move(allowed).error());
  }
  auto facts = afxdp::inspect_interface(options.interface);
  if (!facts) return with_spec(spec, std::move(facts).error());
  if (facts->queue_count != 0 && options.queue >= facts->queue_count) {
    return invalid_argument(fmt::format("port '{}': queue={} but '{}' has {} queue{} (0..{})", spec.text,
                                        options.queue, options.interface, facts->queue_count,
                                        facts->queue_count == 1 ? "" : "s", facts->queue_count - 1));
  }
  const std::size_t fill_share = std::min<std::size_t>(options.ring_size, pool.capacity() / kFillShareDivisor);
  const auto fill_target = static_cast<std::uint32_t>(fill_share - fill_share % kFillGranule);
  if (fill_target == 0) {
    return invalid_argument(fmt::format("port '{}': pool '{}' has {} buffers; afxdp needs at least {} (a quarter "
                                        "of the pool goes to the fill ring, in steps of {})",
                                        spec.text, pool.name(), pool.capacity(), kFillGranule * kFillShareDivisor,
                                        kFillGranule));
  }

  std::vector<std::string> notes;
  auto port = std::make_unique<AfxdpPort>(pool, options.queue);
  auto control_socket = afxdp::open_control_socket();
  if (!control_socket) return with_spec(spec, std::move(control_socket).error());
  port->control_socket_ = std::move(*control_socket);

  // 1. Program and map, 2. link: the XDP side is in place (redirecting to an
  // empty slot, i.e. passing everything) before the socket exists.
  auto program = afxdp::XdpProgram::create(options.queue + 1, options.interface);
  if (!program) return with_spec(spec, std::move(program).error());
  port->program_ = std::move(*program);
  auto link = afxdp::XdpLink::attach(port->program_, facts->ifindex, options.interface, options.mode, notes);
  if (!link) return with_spec(spec, std::move(link).error());
  port->link_ = std::move(*link);

  // 3. UMEM and socket, 4. the socket into the map: frames start flowing.
  if (auto bound = bind_socket(*port, pool, options, *facts, notes); !bound) {
    return with_spec(spec, std::move(bound).error());
  }
  const bool zero_copy = port->socket_->zero_copy();
  if (auto inserted = port->program_.insert_socket(options.queue, port->socket_->fd()); !inserted) {
    return with_spec(spec, std::move(inserted).error());
  }

  bool busy_poll = false;
  if (options.busy_poll) {
    busy_poll = port->socket_->enable_busy_poll(options.busy_poll_usec, options.busy_poll_budget, notes);
    notes.push_back(fmt::format("preferred busy polling also wants /sys/class/net/{}/napi_defer_hard_irqs (e.g. 2) "
                                "and gro_flush_timeout (e.g. 200000) set, so that interrupts stay off while the "
                                "application polls; afxdp does not change them",
                                options.interface));
  }
  if (!zero_copy) port->socket_->raise_copy_tx_budget(options.ring_size, notes);

  const std::uint32_t rx_capacity = port->umem_->rx_frame_capacity();
  // The largest frame: MTU + Ethernet header (14) + one VLAN tag (4).
  const std::uint32_t max_frame = facts->mtu + 18;
  if (rx_capacity < max_frame) {
    notes.push_back(fmt::format("frames above {} bytes (MTU {} allows {}) do not fit a {}-byte chunk and are "
                                "dropped by the kernel (rx_drop_kernel)",
                                rx_capacity, facts->mtu, max_frame, port->umem_->chunk_size()));
  }
  if (fill_target < options.ring_size) {
    notes.push_back(fmt::format("fill ring kept at {} buffers (a quarter of pool '{}'), below ring_size={}",
                                fill_target, pool.name(), options.ring_size));
  }

  afxdp::QueueConfig queue_config;
  queue_config.port_id = port_options.port_id;
  queue_config.queue_id = 0;
  queue_config.fill_target = fill_target;
  queue_config.max_tx_frame = max_frame;
  queue_config.ring_size = options.ring_size;
  queue_config.busy_poll = busy_poll;
  queue_config.zero_copy = zero_copy;
  port->queue_ = std::make_unique<AfxdpQueue>(pool, *port->umem_, *port->socket_, port->ledger_, queue_config);
  port->queue_->prime_fill_ring();
  if (options.wait_block) {
    auto watched = net::ReadinessFd::watch(port->socket_->fd(), fmt::format("port '{}'", spec.text));
    if (!watched) return std::move(watched).error();
    port->queue_->set_interrupt(std::move(*watched));
  }
  auto membership = net::LinkMembership::open(options.interface, fmt::format("port '{}'", spec.text));
  if (!membership) return std::move(membership).error();
  port->membership_ = std::move(*membership);

  net::PortInfo& info = port->info_;
  info.spec = spec.text;
  info.kind = "afxdp";
  info.interface = options.interface;
  info.mode = fmt::format("{} {}{}{}", afxdp::to_string(port->link_.mode()), zero_copy ? "zero-copy" : "copy",
                          busy_poll ? ", busy poll" : "",
                          options.wait_block ? ", wait=block (the worker sleeps on the socket)" : "");
  notes.push_back(fmt::format("queue {} of '{}'{}, rings of {}, need_wakeup on", options.queue, options.interface,
                              facts->driver.empty() ? "" : fmt::format(" (driver {})", facts->driver),
                              options.ring_size));
  info.notes = std::move(notes);
  info.queue_count = 1;
  info.mac = facts->mac;
  info.mtu = facts->mtu;
  log::debug("afxdp '{}': {}", spec.text, info.mode);
  return std::unique_ptr<net::Port>(std::move(port));
}

}  // namespace aether::backends
