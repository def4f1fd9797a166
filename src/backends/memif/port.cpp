// The memif Port: its queues, and the control thread that connects (client)
// or accepts (server), runs the handshake, hands each queue its binding
// when the link comes up and takes it back when it goes down.
//
// The control thread sleeps in poll(2) on the listener, the connection and
// a wake-up eventfd; it wakes for control messages, a client's reconnect
// timer and a handshake's deadline only. The data path never waits for it.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "aether/backends/memif_port.hpp"
#include "aether/core/log.hpp"
#include "aether/net/link_membership.hpp"
#include "client_queue.hpp"
#include "connection.hpp"
#include "control_socket.hpp"
#include "server_queue.hpp"

namespace aether::backends {
namespace {

using namespace memif;
using Clock = std::chrono::steady_clock;

// What this side says in DISCONNECT when its port is closed.
constexpr const char* kClosedReason = "Interface closed";
// How often retired connections are checked for release (ms).
constexpr int kReapMs = 10;
// How long the listener rests after accept(2) failed for lack of resources.
constexpr int kListenerRestMs = 100;

int milliseconds_until(Clock::time_point when) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(when - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000)) + 1;
}

// The sooner of two poll(2) timeouts (-1: none).
int shorter(int timeout, int other) { return timeout < 0 ? other : std::min(timeout, other); }

class MemifPortImpl final : public MemifPort {
 public:
  MemifPortImpl(net::PortInfo info, const MemifConfig& config, ConnectionSettings settings, SocketAddress address)
      : info_(std::move(info)), config_(config), settings_(std::move(settings)), address_(std::move(address)) {
    allowlist_.uids = config_.allowed_uids;
    allowlist_.gids = config_.allowed_gids;
    if (allowlist_.uids.empty() && allowlist_.gids.empty()) allowlist_.uids = {::geteuid(), 0};
  }

  ~MemifPortImpl() override {
    if (control_.joinable()) {
      stopping_.store(true);
      const std::uint64_t one = 1;
      (void)!::write(wake_.get(), &one, sizeof(one));
      control_.join();
    }
    if (config_.role == MemifRole::server && !config_.abstract_socket && listener_.valid()) {
      ::unlink(address_.name.c_str());
    }
  }

  Result<void> start() {
    wake_ = FileDescriptor(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake_.valid()) return errno_error("eventfd for the memif control thread failed");
    auto notifier = PeerNotifier::start(config_.queues);
    if (!notifier) return std::move(notifier).error();
    notifier_ = std::move(*notifier);
    PeerNotifier* const notifier_of_queues = notifier_.get();
    for (unsigned q = 0; q < config_.queues; ++q) {
      const auto id = static_cast<std::uint16_t>(q);
      if (config_.role == MemifRole::server) {
        queues_.push_back(
            std::make_unique<ServerQueue>(*settings_.pool, port_id_, id, config_.interrupt_mode, notifier_of_queues));
      } else if (config_.zero_copy) {
        queues_.push_back(std::make_unique<ClientQueue<true>>(*settings_.pool, port_id_, id, config_.interrupt_mode,
                                                              config_.log2_ring_size, notifier_of_queues));
      } else {
        queues_.push_back(std::make_unique<ClientQueue<false>>(*settings_.pool, port_id_, id, config_.interrupt_mode,
                                                               config_.log2_ring_size, notifier_of_queues));
      }
      if (config_.interrupt_mode) {
        interrupt_epolls_.emplace_back(::epoll_create1(EPOLL_CLOEXEC));
        if (!interrupt_epolls_.back().valid()) return errno_error("epoll_create1 for memif interrupts failed");
        queues_.back()->set_interrupt_fd(interrupt_epolls_.back().get());
      }
    }
    if (config_.role == MemifRole::server) {
      auto listener = listen_control_socket(address_);
      if (!listener) return std::move(listener).error();
      listener_ = std::move(listener->socket);
      listener_lock_ = std::move(listener->lock);
    }
    control_ = std::thread([this] { run(); });
    return {};
  }

  void set_port_id(std::uint16_t id) noexcept { port_id_ = id; }

  [[nodiscard]] const net::PortInfo& info() const noexcept override { return info_; }
  [[nodiscard]] net::Queue& queue(unsigned index) noexcept override { return *queues_[index]; }
  [[nodiscard]] net::LinkState link_state() const override { return link_.load(std::memory_order_acquire); }

  [[nodiscard]] MemifConnectionStatus connection_status() const override {
    std::lock_guard lock(status_mutex_);
    return status_;
  }
  [[nodiscard]] MemifQueueCounters memif_counters(unsigned queue) const noexcept override {
    return queues_[queue]->memif_stats();
  }
  bool wait_until_up(std::chrono::milliseconds timeout) const override {
    std::unique_lock lock(status_mutex_);
    return status_changed_.wait_for(lock, timeout, [this] { return status_.connected; });
  }
  bool wait_until_down(std::chrono::milliseconds timeout) const override {
    std::unique_lock lock(status_mutex_);
    return status_changed_.wait_for(lock, timeout, [this] { return !status_.connected; });
  }

  [[nodiscard]] std::vector<net::XStat> xstats() const override {
    MemifQueueCounters sum;
    for (const auto& queue : queues_) {
      const MemifQueueCounters one = queue->memif_stats();
      sum.bad_descriptors += one.bad_descriptors;
      sum.bad_indices += one.bad_indices;
      sum.incomplete_chains += one.incomplete_chains;
      sum.tx_link_down += one.tx_link_down;
      sum.tx_longer_than_ring += one.tx_longer_than_ring;
      sum.tx_lost_on_disconnect += one.tx_lost_on_disconnect;
      sum.interrupts_sent += one.interrupts_sent;
      sum.interrupts_skipped += one.interrupts_skipped;
      sum.tx_foreign_copies += one.tx_foreign_copies;
      sum.tx_foreign_frees += one.tx_foreign_frees;
    }
    const MemifConnectionStatus status = connection_status();
    return {{"bad_descriptors", sum.bad_descriptors},
            {"bad_indices", sum.bad_indices},
            {"incomplete_chains", sum.incomplete_chains},
            {"tx_link_down", sum.tx_link_down},
            {"tx_longer_than_ring", sum.tx_longer_than_ring},
            {"tx_lost_on_disconnect", sum.tx_lost_on_disconnect},
            {"interrupts_sent", sum.interrupts_sent},
            {"interrupts_skipped", sum.interrupts_skipped},
            {"tx_foreign_copies", sum.tx_foreign_copies},
            {"tx_foreign_frees", sum.tx_foreign_frees},
            {"connections", status.connections},
            {"disconnects", status.disconnects},
            {"multicast_groups", multicast_groups_.size()}};
  }
  [[nodiscard]] net::RxTimestampSource rx_timestamp_source() const noexcept override {
    return net::RxTimestampSource::poll_time;
  }
  // A point-to-point link has no address filter: every frame the peer sends
  // arrives, multicast or not, addressed to us or not. Joining a group or
  // turning promiscuous mode on therefore succeeds and changes nothing on
  // the wire (what arrives is the peer's choice); the groups are kept so
  // that leaving one not joined is refused as on every backend.
  [[nodiscard]] Result<void> join_multicast(std::uint32_t group_be) override {
    if (!net::is_ipv4_multicast(group_be)) {
      return invalid_argument(fmt::format("port '{}': {} is not an IPv4 multicast group (224.0.0.0/4)", info_.spec,
                                          net::format_ipv4_be(group_be)));
    }
    if (std::find(multicast_groups_.begin(), multicast_groups_.end(), group_be) == multicast_groups_.end()) {
      multicast_groups_.push_back(group_be);
    }
    return {};
  }
  [[nodiscard]] Result<void> leave_multicast(std::uint32_t group_be) override {
    const auto joined = std::find(multicast_groups_.begin(), multicast_groups_.end(), group_be);
    if (joined == multicast_groups_.end()) {
      return invalid_argument(fmt::format("port '{}': cannot leave {}: this port has not joined it", info_.spec,
                                          net::format_ipv4_be(group_be)));
    }
    multicast_groups_.erase(joined);
    return {};
  }
  [[nodiscard]] Result<void> set_promiscuous(bool /*enabled*/) override { return {}; }

 private:
  void run() {
    while (!stopping_.load()) {
      if (config_.role == MemifRole::client && !connection_ && Clock::now() >= next_attempt_) {
        try_connect();
        next_attempt_ = Clock::now() + std::chrono::milliseconds(config_.retry_ms);
      }
      pollfd fds[3];
      nfds_t count = 0;
      fds[count++] = pollfd{wake_.get(), POLLIN, 0};
      // The listener rests after accept(2) failed for lack of resources
      // (EMFILE...): the pending connection keeps it readable, and polling
      // it would spin.
      const bool listening = listener_.valid() && Clock::now() >= listener_resume_;
      const nfds_t listener_slot = listening ? count++ : 0;
      if (listening) fds[listener_slot] = pollfd{listener_.get(), POLLIN, 0};
      const nfds_t connection_slot = connection_ ? count++ : 0;
      if (connection_) fds[connection_slot] = pollfd{connection_->socket(), POLLIN, 0};
      int timeout = -1;
      if (connection_ && !connection_->connected()) {
        timeout = milliseconds_until(handshake_deadline_);
      } else if (config_.role == MemifRole::client && !connection_) {
        timeout = milliseconds_until(next_attempt_);
      }
      if (listener_.valid() && !listening) timeout = shorter(timeout, milliseconds_until(listener_resume_));
      if (!retired_.empty()) timeout = shorter(timeout, kReapMs);
      if (::poll(fds, count, timeout) < 0) continue;  // EINTR
      if ((fds[0].revents & POLLIN) != 0) {
        std::uint64_t value = 0;
        (void)!::read(wake_.get(), &value, sizeof(value));
        continue;
      }
      // A knock on the listener never moves the deadline of the handshake
      // in progress: it belongs to that connection (issue 13, item 5).
      if (listener_slot != 0 && (fds[listener_slot].revents & POLLIN) != 0) accept_one();
      if (connection_slot != 0 && connection_ && fds[connection_slot].revents != 0) {
        switch (connection_->on_readable()) {
          case Connection::Event::connected: on_connected(); break;
          case Connection::Event::closed: on_closed(); break;
          case Connection::Event::none: break;
        }
      }
      if (connection_ && !connection_->connected() && Clock::now() >= handshake_deadline_) {
        connection_->disconnect(fmt::format("Handshake not complete after {} ms", config_.handshake_ms));
        on_closed();
      }
      reap_retired();
    }
    if (connection_) {
      connection_->disconnect(kClosedReason);
      on_closed();
    }
    // The port is being destroyed: by contract nobody polls its queues any
    // more, so they can let go of their bindings on this thread.
    for (auto& queue : queues_) queue->adopt_now(nullptr);
    retired_.clear();
  }

  // Frees connections whose every queue has acknowledged the request that
  // took its binding away (queue.hpp, "Hand-over").
  void reap_retired() {
    std::erase_if(retired_, [this](const Retired& retired) {
      for (unsigned q = 0; q < queues_.size(); ++q) {
        if (!queues_[q]->acknowledged(retired.detach_epochs[q])) return false;
      }
      return true;
    });
  }

  void try_connect() {
    auto socket = connect_control_socket(address_);
    if (!socket) {
      const std::string problem = socket.error().describe();
      if (problem != last_connect_error_) log::info("memif {}: {}; retrying every {} ms", address_.describe(), problem, config_.retry_ms);
      last_connect_error_ = problem;
      return;
    }
    // The server must be someone we trust: an abstract name or a shared
    // directory can be squatted. Nothing is sent to an impostor.
    if (auto allowed = check_peer_credentials(socket->get(), allowlist_); !allowed) {
      const std::string problem = "server refused: " + allowed.error().message;
      if (problem != last_connect_error_) log::warn("memif {}: {}; retrying every {} ms", address_.describe(), problem, config_.retry_ms);
      last_connect_error_ = problem;
      return;
    }
    last_connect_error_.clear();
    connection_ = Connection::connect(std::move(*socket), settings_);
    handshake_deadline_ = Clock::now() + std::chrono::milliseconds(config_.handshake_ms);
  }

  void accept_one() {
    auto socket = accept_control_socket(listener_.get());
    if (!socket) {
      const std::errc code = static_cast<std::errc>(socket.error().code.value());
      if (code != std::errc::resource_unavailable_try_again && code != std::errc::connection_aborted &&
          code != std::errc::interrupted) {
        log::warn("memif {}: {}; not accepting for {} ms", address_.describe(), socket.error().describe(),
                  kListenerRestMs);
        listener_resume_ = Clock::now() + std::chrono::milliseconds(kListenerRestMs);
      }
      return;
    }
    if (auto allowed = check_peer_credentials(socket->get(), allowlist_); !allowed) {
      log::warn("memif {}: refused a peer: {}", address_.describe(), allowed.error().message);
      (void)send_message(socket->get(), encode_message(DisconnectMessage{0, allowed.error().message}));
      return;
    }
    if (connection_) {
      // One peer at a time (DPDK's "Already connected"), told why.
      (void)send_message(socket->get(), encode_message(DisconnectMessage{0, "Already connected"}));
      return;
    }
    auto connection = Connection::accept(std::move(*socket), settings_);
    if (!connection) {
      log::warn("memif {}: could not greet a new peer: {}", address_.describe(), connection.error().describe());
      return;
    }
    connection_ = std::move(*connection);
    handshake_deadline_ = Clock::now() + std::chrono::milliseconds(config_.handshake_ms);
  }

  void on_connected() {
    // Before any queue can ask for a signal on the new rings.
    std::vector<int> tx_event_fds;
    for (unsigned q = 0; q < queues_.size(); ++q) tx_event_fds.push_back(connection_->binding(q).tx_event_fd);
    if (auto set = notifier_->set_targets(tx_event_fds); !set) {
      log::warn("memif {}: the peer will get no interrupts: {}", address_.describe(), set.error().describe());
    }
    for (unsigned q = 0; q < queues_.size(); ++q) {
      queues_[q]->request(&connection_->binding(q));
      if (config_.interrupt_mode && connection_->rx_event_fd(q) >= 0) {
        // Edge-triggered: every write by the peer is one wake-up, and
        // nobody needs to drain the eventfd.
        epoll_event event{};
        event.events = EPOLLIN | EPOLLET;
        event.data.u32 = q;
        ::epoll_ctl(interrupt_epolls_[q].get(), EPOLL_CTL_ADD, connection_->rx_event_fd(q), &event);
      }
    }
    link_.store(net::LinkState::up, std::memory_order_release);
    {
      std::lock_guard lock(status_mutex_);
      status_.connected = true;
      ++status_.connections;
      status_.peer_name = connection_->peer_name();
      status_.peer_interface_name = connection_->peer_interface_name();
      status_.rx_rings = connection_->rx_rings();
      status_.tx_rings = connection_->tx_rings();
      status_.log2_ring_size = connection_->log2_ring_size();
    }
    status_changed_.notify_all();
    log::info("memif {}: connected to '{}' ({}), {} rx / {} tx rings of {} descriptors", address_.describe(),
              connection_->peer_name(), connection_->peer_interface_name(), connection_->rx_rings(),
              connection_->tx_rings(), 1u << connection_->log2_ring_size());
  }

  void on_closed() {
    const bool was_connected = link_.exchange(net::LinkState::down, std::memory_order_acq_rel) == net::LinkState::up;
    std::vector<std::uint64_t> detach_epochs(queues_.size(), 0);
    if (was_connected) {
      notifier_->clear_targets();
      for (unsigned q = 0; q < queues_.size(); ++q) {
        if (config_.interrupt_mode && connection_->rx_event_fd(q) >= 0) {
          ::epoll_ctl(interrupt_epolls_[q].get(), EPOLL_CTL_DEL, connection_->rx_event_fd(q), nullptr);
        }
        // Each worker lets go at its next burst, and counts there what the
        // peer had not confirmed (MemifQueueCounters::tx_lost_on_disconnect).
        detach_epochs[q] = queues_[q]->request(nullptr);
      }
    }
    const std::string reason = connection_->close_reason();
    const bool by_peer = connection_->closed_by_peer();
    {
      std::lock_guard lock(status_mutex_);
      status_.connected = false;
      ++status_.disconnects;
      status_.last_disconnect_reason = reason;
      status_.last_disconnect_by_peer = by_peer;
      status_.rx_rings = status_.tx_rings = 0;
    }
    status_changed_.notify_all();
    if (stopping_.load()) {
      log::debug("memif {}: closed", address_.describe());
    } else if (was_connected && by_peer && reason == kClosedReason) {
      log::info("memif {}: link down: the peer closed its interface", address_.describe());
    } else if (was_connected) {
      log::warn("memif {}: link down ({}: {})", address_.describe(), by_peer ? "peer" : "local", reason);
    } else {
      log::warn("memif {}: handshake ended ({}: {})", address_.describe(), by_peer ? "peer" : "local", reason);
    }
    // Its memory stays mapped until every queue has moved off it.
    if (was_connected) retired_.push_back(Retired{std::move(connection_), std::move(detach_epochs)});
    connection_.reset();
    // A client tries again after retry_ms, not at once: a server that just
    // closed is usually still tearing down its listener.
    next_attempt_ = Clock::now() + std::chrono::milliseconds(config_.retry_ms);
  }

  net::PortInfo info_;
  MemifConfig config_;
  ConnectionSettings settings_;
  SocketAddress address_;
  std::uint16_t port_id_ = 0;
  std::unique_ptr<PeerNotifier> notifier_;  // before the queues, which point to it
  std::vector<std::unique_ptr<MemifQueue>> queues_;
  std::vector<FileDescriptor> interrupt_epolls_;
  std::vector<std::uint32_t> multicast_groups_;  // control thread of the application
  FileDescriptor listener_;
  FileDescriptor listener_lock_;  // held while we listen on a path (control_socket.hpp)
  PeerAllowlist allowlist_;
  FileDescriptor wake_;
  std::unique_ptr<Connection> connection_;  // the control thread's
  // A closed connection some queue may still use, until each queue
  // acknowledged the request (epoch) that detached it.
  struct Retired {
    std::unique_ptr<Connection> connection;
    std::vector<std::uint64_t> detach_epochs;
  };
  std::vector<Retired> retired_;
  std::string last_connect_error_;
  Clock::time_point next_attempt_ = Clock::now();  // client: when to try to connect next
  Clock::time_point handshake_deadline_;           // of connection_, set when it was made
  Clock::time_point listener_resume_;              // server: accept again from then on
  std::atomic<net::LinkState> link_{net::LinkState::down};
  mutable std::mutex status_mutex_;
  mutable std::condition_variable status_changed_;
  MemifConnectionStatus status_;
  std::atomic<bool> stopping_{false};
  std::thread control_;  // last: started after everything above exists
};

// A locally administered unicast address (bit 1 of the first octet set,
// bit 0 clear) that tells the role and carries the interface id.
net::MacAddress make_mac(const MemifConfig& config) {
  return net::MacAddress{{0x02, 0xae, static_cast<std::uint8_t>(config.role == MemifRole::server ? 0x53 : 0x43),
                          static_cast<std::uint8_t>(config.id >> 16), static_cast<std::uint8_t>(config.id >> 8),
                          static_cast<std::uint8_t>(config.id)}};
}

std::string describe_mode(const MemifConfig& config, const mem::Mempool& pool) {
  std::string mode = config.role == MemifRole::server ? "server, copy" : "client";
  if (config.role == MemifRole::client) {
    mode += config.zero_copy ? fmt::format(", zero copy (pool '{}' lent as region 1)", pool.name())
                             : fmt::format(", copy ({}-byte memif buffers)", config.buffer_size);
  }
  mode += config.interrupt_mode ? ", interrupt mode (eventfd)" : ", polling (MASK_INT)";
  mode += fmt::format(", {} queue pair{}, rings of up to {} descriptors, id {}", config.queues,
                      config.queues == 1 ? "" : "s", 1u << config.log2_ring_size, config.id);
  return mode;
}

}  // namespace

Result<std::unique_ptr<net::Port>> open_memif_port(const net::PortSpec& spec, const net::PortOptions& options) {
  auto config = parse_memif_config(spec);
  if (!config) return std::move(config).error();
  if (options.pool == nullptr) return invalid_argument(fmt::format("port '{}': no mempool given", spec.text));
  const mem::Mempool& pool = *options.pool;

  net::PortInfo info;
  info.spec = spec.text;
  info.kind = "memif";
  info.interface = config->abstract_socket ? "@" + config->socket : config->socket;
  info.queue_count = config->queues;
  info.mac = make_mac(*config);
  info.mtu = 1500;
  if (config->zero_copy) {
    // Descriptor offsets are u32: the lent pool must lie in the first 4 GiB
    // of its region; and it must be a memfd the server can map.
    if (pool.region().length() > std::numeric_limits<std::uint32_t>::max() || pool.region().fd() < 0) {
      return invalid_argument(fmt::format("port '{}': pool '{}' ({} bytes) cannot be lent: zero copy needs a memfd "
                                          "region below 4 GiB (use zero_copy=0)",
                                          spec.text, pool.name(), pool.region().length()));
    }
    info.notes.push_back(
        "zero copy: the server maps the whole pool, buffer metadata included; use zero_copy=0 with a server "
        "you do not trust");
  }
  if (!config->zero_copy && config->role == MemifRole::client && config->buffer_size > pool.data_room()) {
    info.notes.push_back(fmt::format("memif buffers ({} bytes) are larger than the pool's data room ({}): frames "
                                     "that long arrive as chained packets",
                                     config->buffer_size, pool.data_room()));
  }
  info.mode = describe_mode(*config, pool);

  ConnectionSettings settings;
  settings.role = config->role;
  settings.id = config->id;
  settings.queues = config->queues;
  settings.log2_ring_size = config->log2_ring_size;
  settings.buffer_size = config->buffer_size;
  settings.zero_copy = config->zero_copy;
  settings.interrupt_mode = config->interrupt_mode;
  if (config->secret) settings.secret = secret_field(*config->secret);
  settings.name = fmt::format("aether-{}", ::getpid());
  settings.pool = options.pool;

  SocketAddress address{config->socket, config->abstract_socket};
  auto port = std::make_unique<MemifPortImpl>(std::move(info), *config, std::move(settings), std::move(address));
  port->set_port_id(options.port_id);
  if (auto started = port->start(); !started) {
    Error error = std::move(started).error();
    error.message = fmt::format("port '{}': {}", spec.text, error.message);
    return error;
  }
  return std::unique_ptr<net::Port>(std::move(port));
}

}  // namespace aether::backends
