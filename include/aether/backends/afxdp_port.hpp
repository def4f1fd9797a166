// afxdp: AF_XDP sockets (Documentation/networking/af_xdp.rst) through
// Debian's libxdp (<xdp/xsk.h>) and libbpf.
//
//   afxdp:IFNAME[?queue=N&mode=auto|native|generic&zero_copy=auto|on|off
//                &busy_poll=0|1&busy_poll_usec=N&busy_poll_budget=N&ring_size=N&wait=spin|block]
//
// What the port does, in the order open_afxdp_port() does it:
//   1. Loads its own XDP program (six BPF instructions: look up the rx queue
//      index in an XSKMAP, redirect there, XDP_PASS if the slot is empty) and
//      attaches it with a BPF link. The kernel detaches a link when its last
//      fd closes, so the program disappears with the process however it ends
//      (kill -9 included): no bpffs pins, no stale program, unlike libxdp's
//      dispatcher. One afxdp port per interface per process.
//      mode=auto tries native (driver) XDP and falls back to generic (skb)
//      XDP; mode=native|generic insists and fails with the reason.
//   2. Registers the whole mempool region as the UMEM (aligned mode, chunk =
//      buffer_stride(), frame headroom = sizeof(Packet) = 64), so that the
//      kernel writes each frame exactly at Packet::data() with
//      data_offset = XDP_PACKET_HEADROOM (256): no copy between UMEM and
//      packet buffer.
//   3. Binds the socket with XDP_USE_NEED_WAKEUP; zero_copy=auto tries
//      XDP_ZEROCOPY, then XDP_COPY. The result is read back (XDP_OPTIONS) and
//      reported in PortInfo::mode ("native zero-copy", "native copy",
//      "generic copy"), the reasons for any fallback in PortInfo::notes.
//   4. busy_poll=1 sets SO_PREFER_BUSY_POLL, SO_BUSY_POLL and
//      SO_BUSY_POLL_BUDGET; a refusal is reported in notes, not fatal.
//
// Data path (per queue, one thread; no allocation, no lock):
//   rx_burst: tops the fill ring up in bulk from the queue's MempoolCache,
//     consumes the rx ring, validates every address the kernel returns (in
//     this UMEM, at a buffer the kernel was given, frame inside the buffer)
//     and hands out the Packet*s. Syscalls: recvfrom(MSG_DONTWAIT) once per
//     empty burst, only when the fill ring says XDP_RING_NEED_WAKEUP or
//     busy_poll=1 (then the syscall *is* the driver poll).
//   tx_burst: returns completed buffers to the pool, writes descriptors,
//     then sendto(MSG_DONTWAIT) once per burst, only when the tx ring says
//     XDP_RING_NEED_WAKEUP (always, in copy mode) or busy_poll=1.
//   A packet from another pool is copied into a buffer of this UMEM (counted
//   in the xstat tx_foreign_copies) and the original freed to
//   its own pool; if no buffer is free, tx_burst stops there and the rest
//   stays the caller's. Chained packets, frames shorter than an Ethernet
//   header or longer than MTU + 18 are taken and counted as tx_drop_bad_frame.
//   Kernel drop counters (XDP_STATISTICS) are folded into the queue's stats
//   by the worker every ~100 ms (checked every 256 bursts), so they can lag
//   that much; xstats() reads them exactly at any time.
//
// Contract extras: wait=block makes rx_interrupt_fd() an epoll fd on the
// XSK socket (readable while the rx ring holds frames, net/xdp/xsk.c
// xsk_poll), so an idle worker sleeps; rx_burst never blocks. AF_XDP
// descriptors carry no receive time: Packet::timestamp is the poll time
// (one net::RxClock read per burst that returned frames). join_multicast and
// set_promiscuous are PACKET_ADD_MEMBERSHIP on the netdev
// (net::LinkMembership); the XDP program then redirects those frames too.
// xstats: the socket's XDP_STATISTICS read now (kernel_rx_dropped,
// kernel_rx_invalid_descs, kernel_tx_invalid_descs, kernel_rx_ring_full,
// kernel_rx_fill_ring_empty_descs, kernel_tx_ring_empty_descs), then
// tx_foreign_copies, invalid_kernel_addresses (must stay 0), tx_wakeups and
// rx_wakeups (sendto/recvfrom calls), fill_ring_target, zero_copy,
// multicast_groups, promiscuous.
//
// Every frame arriving on the bound queue goes to the socket, ARP and IPv6
// neighbour discovery included: the kernel stack on that interface queue
// sees nothing, so peers need static neighbour entries (VethPair makes them).
//
// veth (Linux 6.18, tested): native XDP works in both directions, also when
// the peer has no XDP program or is a kernel UDP socket: a frame the peer
// transmits is run through this end's XDP program in veth's NAPI, and our
// copy-mode tx goes out as an skb through veth_xmit, not through
// ndo_xdp_xmit (which is what needs an XDP program or GRO on the peer).
// veth has no AF_XDP zero-copy: zero_copy=auto reports "native copy" with
// the driver's refusal in the notes; zero_copy=on fails.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "aether/core/result.hpp"
#include "aether/net/port.hpp"
#include "aether/net/port_spec.hpp"

namespace aether::backends {

inline constexpr std::string_view afxdp_synopsis =
    "afxdp:IFNAME[?queue=N&mode=auto|native|generic&zero_copy=auto|on|off&busy_poll=0|1&busy_poll_usec=N"
    "&busy_poll_budget=N&ring_size=N&wait=spin|block]";
inline constexpr std::string_view afxdp_summary =
    "AF_XDP socket on the Aether mempool as UMEM, own XDP program attached by BPF link (libxdp/libbpf)";

enum class XdpAttachMode : std::uint8_t { automatic, native, generic };
enum class ZeroCopyMode : std::uint8_t { automatic, on, off };

struct AfxdpOptions {
  std::string interface;
  std::uint32_t queue = 0;                 // the interface's rx/tx queue index
  XdpAttachMode mode = XdpAttachMode::automatic;
  ZeroCopyMode zero_copy = ZeroCopyMode::automatic;
  bool busy_poll = false;
  std::uint32_t busy_poll_usec = 20;       // SO_BUSY_POLL
  std::uint32_t busy_poll_budget = 64;     // SO_BUSY_POLL_BUDGET: Aether's default burst size
  std::uint32_t ring_size = 2048;          // rx, tx, fill and completion rings (libxdp's default)
  bool wait_block = false;                 // wait=block: the queue offers an rx interrupt fd
};

// Parses and range-checks an afxdp spec. Errors name the spec, the key and
// what is allowed. Does not touch the system.
[[nodiscard]] inline Result<AfxdpOptions> parse_afxdp_options(const net::PortSpec& spec) {
  if (spec.kind != "afxdp") {
    return invalid_argument(fmt::format("port '{}': not an afxdp spec (kind '{}')", spec.text, spec.kind));
  }
  if (auto known = spec.check_keys(
          {"queue", "mode", "zero_copy", "busy_poll", "busy_poll_usec", "busy_poll_budget", "ring_size", "wait"});
      !known) {
    return std::move(known).error();
  }
  AfxdpOptions options;
  // IFNAMSIZ (16, <net/if.h>) includes the terminating NUL.
  if (spec.target.size() > 15 || spec.target.find_first_of("/ \t:") != std::string::npos) {
    return invalid_argument(fmt::format("port '{}': '{}' is not an interface name (at most 15 characters, no '/', ':' "
                                        "or spaces)",
                                        spec.text, spec.target));
  }
  options.interface = spec.target;

  auto queue = spec.get_unsigned("queue", 0, 0, 65535);
  if (!queue) return std::move(queue).error();
  options.queue = static_cast<std::uint32_t>(*queue);

  auto mode = spec.get_choice("mode", "auto", {"auto", "native", "generic"});
  if (!mode) return std::move(mode).error();
  options.mode = *mode == "native" ? XdpAttachMode::native
                 : *mode == "generic" ? XdpAttachMode::generic
                                      : XdpAttachMode::automatic;

  auto zero_copy = spec.get_choice("zero_copy", "auto", {"auto", "on", "off"});
  if (!zero_copy) return std::move(zero_copy).error();
  options.zero_copy = *zero_copy == "on" ? ZeroCopyMode::on : *zero_copy == "off" ? ZeroCopyMode::off
                                                                                    : ZeroCopyMode::automatic;
  if (options.mode == XdpAttachMode::generic && options.zero_copy == ZeroCopyMode::on) {
    return invalid_argument(fmt::format("port '{}': zero_copy=on needs native XDP; generic (skb) XDP always copies "
                                        "(use mode=native or mode=auto)",
                                        spec.text));
  }

  auto wait = spec.get_choice("wait", "spin", {"spin", "block"});
  if (!wait) return std::move(wait).error();
  options.wait_block = *wait == "block";

  auto busy_poll = spec.get_bool("busy_poll", false);
  if (!busy_poll) return std::move(busy_poll).error();
  options.busy_poll = *busy_poll;
  // Upper bounds: 1 s of busy polling and NAPI_POLL_WEIGHT-like budgets far
  // beyond anything useful; the kernel caps the budget at U16_MAX.
  auto usec = spec.get_unsigned("busy_poll_usec", 20, 1, 1'000'000);
  if (!usec) return std::move(usec).error();
  options.busy_poll_usec = static_cast<std::uint32_t>(*usec);
  auto budget = spec.get_unsigned("busy_poll_budget", 64, 1, 65535);
  if (!budget) return std::move(budget).error();
  options.busy_poll_budget = static_cast<std::uint32_t>(*budget);
  if (!options.busy_poll && (spec.find("busy_poll_usec") || spec.find("busy_poll_budget"))) {
    return invalid_argument(
        fmt::format("port '{}': busy_poll_usec and busy_poll_budget only apply with busy_poll=1", spec.text));
  }

  // AF_XDP rings must be a power of two (xsk_init_queue, net/xdp/xsk.c).
  auto ring_size = spec.get_unsigned("ring_size", 2048, 64, 16384);
  if (!ring_size) return std::move(ring_size).error();
  if ((*ring_size & (*ring_size - 1)) != 0) {
    return invalid_argument(fmt::format("port '{}': ring_size={} is not a power of two from 64 to 16384 (AF_XDP "
                                        "rings are powers of two)",
                                        spec.text, *ring_size));
  }
  options.ring_size = static_cast<std::uint32_t>(*ring_size);
  return options;
}

// Opens an AF_XDP port: one queue bound to the interface queue `queue`.
// Needs CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF (or CAP_SYS_ADMIN), i.e.
// root. The pool must be a default_packet_pool_config() pool (power-of-two
// stride of 2048 or 4096 bytes, headroom >= 256) and must outlive the port.
// Errors name the interface and the step: missing interface, missing
// capability, native XDP unsupported with mode=native, zero-copy refused
// with zero_copy=on, an XDP program already attached, UMEM refused (size,
// alignment, RLIMIT_MEMLOCK).
[[nodiscard]] Result<std::unique_ptr<net::Port>> open_afxdp_port(const net::PortSpec& spec,
                                                                 const net::PortOptions& options);

}  // namespace aether::backends
