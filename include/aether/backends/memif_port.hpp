// memif: shared-memory packet interface (protocol 2.0), interoperable with
// DPDK's net_memif PMD, libmemif and VPP's memif plugin.
//
//   memif:SOCKET[?role=client|server&id=N&queues=N&rsize=LOG2&bsize=N&zero_copy=0|1
//                &mode=polling|interrupt&secret=S&retry_ms=N&handshake_ms=N]
//
//   SOCKET      a filesystem path (/run/aether/memif.sock), or @NAME for the
//               abstract namespace. DPDK's default is abstract: its
//               `socket=/run/memif.sock` (socket-abstract=yes, the default)
//               is Aether's `memif:@/run/memif.sock`.
//   role        client (default, as in DPDK): connects, allocates every
//               region and ring, retries every retry_ms while no server is
//               there or after it went away. server: listens; accepts one
//               connection at a time, and a new one after it ended.
//   id          interface id, matched by the server (default 0)
//   queues      queue pairs wanted (default 1, at most 255); the peer may
//               accept fewer: queues without a ring act as link-down queues
//   rsize       log2 of the ring size (default 10 = 1024 descriptors, at
//               most 14). Client: what it asks for; server: the largest it
//               accepts.
//   bsize       client in copy mode: bytes per memif buffer (default 2048);
//               longer frames are chained over several buffers
//   zero_copy   client only (default 1): lend the port's mempool buffers to
//               the server (the pool's memfd is a memif region); 0 copies
//               through a separate region instead (see "Trust" below)
//   mode        polling (default): tell the peer not to signal (MASK_INT);
//               the queues have no rx_interrupt_fd().
//               interrupt: the peer writes the ring's eventfd after each
//               burst; each queue's rx_interrupt_fd() is an epoll fd on it
//               (stable across reconnects), so an idle worker sleeps there
//               (dataplane::Worker). rx_burst never blocks.
//
// Contract extras: Packet::timestamp is the poll time (memif descriptors
// carry none; one net::RxClock read per burst with frames). A
// point-to-point link has no address filter: every frame the peer sends
// arrives, so join_multicast and set_promiscuous succeed and change nothing
// (what arrives is the peer's choice). xstats: the MemifQueueCounters
// summed over queues, connections, disconnects, multicast_groups.
//   secret      up to 23 characters; the server refuses clients without it
//   retry_ms    client reconnect interval (default 100)
//   handshake_ms  a connection not up after this long is dropped (default 2000)
//   allow       who may be the peer, checked with SO_PEERCRED in both roles:
//               uid:N and gid:N joined by '+' (allow=uid:1000+gid:27); a
//               peer matching any entry is accepted. Default: this
//               process's effective uid, and root.
//
// Data path (no allocation, no lock; the only syscall is a write to a
// private eventfd per tx burst when the peer asked for interrupts: the
// peer's own eventfd is written by a separate thread, never a worker):
// - rx_burst returns up to the span's size of frames; chains of memif
//   buffers (MEMIF_DESC_FLAG_NEXT) become chains of Packets.
// - tx_burst takes frames while the ring has room; a frame that does not
//   fit ends the burst (the caller keeps it), unless it could never fit
//   (more descriptors than the whole ring): that one is dropped, counted in
//   tx_drop_bad_frame and MemifQueueCounters::tx_longer_than_ring.
//   Chained Packets are sent as chained descriptors. Without a connection, tx_burst takes and drops the
//   frames, counting tx_drop_error and MemifQueueStats::tx_link_down.
// - With an empty pool, rx leaves frames in the ring: the peer sees
//   back-pressure, nothing is dropped.
//
// A hostile peer: every descriptor, head and tail it writes is checked
// before use; impossible values are counted (MemifQueueStats) and the frame
// dropped; a malformed or out-of-order control message ends the
// connection with a DISCONNECT naming the reason. Nothing is read or
// written outside a mapped region. Trust: in zero-copy client mode the
// server maps the whole mempool, metadata included; Aether rewrites the
// metadata of every buffer it gets back, but a server can still corrupt
// buffers the application holds. Use zero_copy=0 (or the server role) with
// a peer you do not trust. Details: docs/memif.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/net/port.hpp"
#include "aether/net/port_spec.hpp"

namespace aether::backends {

enum class MemifRole : std::uint8_t { client, server };

// A memif spec, parsed and checked.
struct MemifConfig {
  std::string socket;        // path, or abstract name (without '@')
  bool abstract_socket = false;
  MemifRole role = MemifRole::client;
  std::uint32_t id = 0;
  unsigned queues = 1;
  unsigned log2_ring_size = 10;
  unsigned buffer_size = 2048;
  bool zero_copy = true;     // client only
  bool interrupt_mode = false;
  std::optional<std::string> secret;
  unsigned retry_ms = 100;
  unsigned handshake_ms = 2000;
  // Peers allowed (SO_PEERCRED): empty lists = this process's euid and root.
  std::vector<std::uint32_t> allowed_uids;
  std::vector<std::uint32_t> allowed_gids;
};

// Errors name the spec, the key, the value and what is allowed.
[[nodiscard]] Result<MemifConfig> parse_memif_config(const net::PortSpec& spec);

// Per-queue counters particular to memif (see queue.hpp for definitions).
struct MemifQueueCounters {
  std::uint64_t bad_descriptors = 0;        // out of the regions, or longer than the buffer lent
  std::uint64_t bad_indices = 0;            // impossible head/tail values (the burst took nothing)
  std::uint64_t incomplete_chains = 0;      // a chain cut off by the published index
  std::uint64_t tx_link_down = 0;           // taken and dropped without a connection or ring
  std::uint64_t tx_longer_than_ring = 0;    // a frame needing more descriptors than the whole ring: dropped
  std::uint64_t tx_lost_on_disconnect = 0;  // handed over, not confirmed consumed, when the peer went away
  std::uint64_t interrupts_sent = 0;
  std::uint64_t interrupts_skipped = 0;     // asked for but not written: the peer's eventfd counter was full
  std::uint64_t tx_foreign_copies = 0;      // zero-copy client: frames of another pool copied into ours to be lent
  std::uint64_t tx_foreign_frees = 0;       // copy path: sent frames of another pool, freed to it without a cache
};

// The connection as the control thread last saw it.
struct MemifConnectionStatus {
  bool connected = false;
  std::uint64_t connections = 0;        // completed handshakes so far
  std::uint64_t disconnects = 0;        // connections (or attempts) that ended
  std::string peer_name;                // HELLO/INIT name (DPDK: its version string)
  std::string peer_interface_name;      // CONNECT/CONNECTED name
  unsigned rx_rings = 0;                // rings this side receives on, in the current connection
  unsigned tx_rings = 0;
  unsigned log2_ring_size = 0;
  std::string last_disconnect_reason;   // "" if none yet
  bool last_disconnect_by_peer = false; // the reason came in the peer's DISCONNECT (or it hung up)
};

// The port open_memif_port() returns: a net::Port with memif extras.
class MemifPort : public net::Port {
 public:
  [[nodiscard]] virtual MemifConnectionStatus connection_status() const = 0;
  [[nodiscard]] virtual MemifQueueCounters memif_counters(unsigned queue) const noexcept = 0;
  // Blocks until the link is up, or the timeout passes. True if up.
  virtual bool wait_until_up(std::chrono::milliseconds timeout) const = 0;
  // Blocks until the link is down, or the timeout passes. True if down.
  virtual bool wait_until_down(std::chrono::milliseconds timeout) const = 0;
};

// Opens a memif port. A server binds its socket here (errors: address in
// use, path too long); a client returns at once and connects in the
// background (wait_until_up). Errors name the spec and what is wrong.
[[nodiscard]] Result<std::unique_ptr<net::Port>> open_memif_port(const net::PortSpec& spec,
                                                                const net::PortOptions& options);

inline constexpr std::string_view memif_synopsis =
    "memif:PATH|@NAME[?role=client|server&id=N&queues=N&rsize=LOG2&bsize=N&zero_copy=0|1&mode=polling|interrupt"
    "&secret=S&retry_ms=N&handshake_ms=N&allow=uid:N+gid:N]";
inline constexpr std::string_view memif_summary =
    "shared-memory interface (memif 2.0: DPDK, VPP, libmemif), zero copy as client";

}  // namespace aether::backends
