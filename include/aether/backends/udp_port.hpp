// udp: the standard Linux path, a kernel UDP socket behind the Port
// interface. Every other backend's figures are compared with this one.
//
//   udp:LOCAL_IP:PORT[?busy_poll=USEC&wait=spin|block&batch=N&interface=NAME]
//
//   LOCAL_IP   an IPv4 address of this host (network namespace) to bind,
//              or 0.0.0.0 for all of them
//   PORT       0..65535; 0 lets the kernel choose (info().interface shows
//              the port it chose)
//   busy_poll  SO_BUSY_POLL in microseconds (0 = off, the default). Values
//              above net.core.busy_poll need CAP_NET_ADMIN; a refusal is
//              reported in info().notes and the port opens without it.
//   wait       rx_burst never blocks (recvmmsg with MSG_DONTWAIT, one
//              syscall per burst) in either mode.
//              spin (default): the queue has no rx_interrupt_fd(); a worker
//              busy-polls it.
//              block: rx_interrupt_fd() is an epoll fd readable while the
//              socket is (net::ReadinessFd): an idle worker sleeps in poll(2)
//              on it, the classic blocking receive with its wake-up cost.
//   batch      most datagrams per recvmmsg/sendmmsg call, 1..1024 (32)
//   interface  the netdev multicast groups are joined and sent on
//              (IP_MULTICAST_IF; default: the one owning LOCAL_IP; with 0.0.0.0 and no interface, the kernel
//              picks by route). A socket bound to a unicast address receives
//              no multicast: a subscriber binds 0.0.0.0 or the group.
//
// Contract extras: Packet::timestamp is the kernel's SO_TIMESTAMPNS
// (CLOCK_REALTIME) mapped onto net::RxClock; join_multicast is
// IP_ADD_MEMBERSHIP; promiscuous mode is refused (a socket has none).
// xstats: multicast_groups, rx_timestamp_fallbacks (datagrams without a
// kernel stamp, stamped with the poll time), busy_poll_us.
//
// The port speaks Ethernet frames like every other backend, so the same
// echo code runs on all of them:
// - rx: each datagram's payload lands at data() + 42 and the port writes
//   synthetic Ethernet/IPv4/UDP headers in front of it: source = the
//   sender (from recvmmsg's msg_name), destination = the bound address,
//   MACs zero, a valid IPv4 header checksum, UDP checksum 0. Frames
//   shorter than 60 bytes are zero-padded to 60, as on a wire.
// - tx: each frame is parsed as Ethernet/IPv4/UDP; its payload is sent to
//   the frame's destination IP:port from the bound socket (the frame's
//   source address and MACs are ignored: the kernel chooses them).
//
// Counters: a frame that is not IPv4/UDP (or is chained) is taken and
// counted tx_drop_bad_frame; a datagram the kernel refuses (e.g. port 0,
// unreachable network) is taken and counted tx_drop_error; when the socket
// buffer is full (EAGAIN/ENOBUFS) tx_burst stops and the caller keeps the
// rest. rx_drop_kernel is the socket's own drop count (SO_RXQ_OVFL: full
// receive buffer); the kernel reports it with the first datagram queued
// after the drops, so it shows once traffic resumes. rx_drop_truncated
// counts datagrams longer than a buffer.
// When the pool is empty rx_burst receives nothing and the datagrams wait
// in the socket buffer (the kernel counts them if it overflows).
//
// Syscalls on the data path: rx_burst makes one recvmmsg, tx_burst one sendmmsg per `batch` frames (more only when the
// kernel refuses a datagram).
#pragma once

#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "aether/core/result.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/port.hpp"
#include "aether/net/port_spec.hpp"

namespace aether::backends {

enum class UdpWait : std::uint8_t { spin, block };

// A udp spec, parsed and checked.
struct UdpPortConfig {
  std::uint32_t ip_be = 0;    // network byte order; 0 = INADDR_ANY
  std::uint16_t port = 0;     // host byte order; 0 = the kernel chooses
  unsigned busy_poll_us = 0;  // SO_BUSY_POLL; 0 = not set
  UdpWait wait = UdpWait::spin;
  unsigned batch = 32;  // datagrams per recvmmsg/sendmmsg
  std::string interface;  // multicast joins; "" = the one owning ip_be

  static constexpr unsigned kMaxBatch = 1024;
};

// Parses the target and parameters of a udp spec. Errors name the spec and
// the bad part: a missing ':', an address that is not dotted IPv4, a port
// outside 0..65535, an unknown parameter, a value out of range.
// Inline (pure logic on aether::net only), so that specs can be checked
// and tested without linking the backend, as afxdp_port.hpp does.
[[nodiscard]] inline Result<UdpPortConfig> parse_udp_port_config(const net::PortSpec& spec) {
  if (auto known = spec.check_keys({"busy_poll", "wait", "batch", "interface"}); !known) return std::move(known).error();

  UdpPortConfig config;
  const std::string_view target = spec.target;
  // The last ':' separates the port, so that a later IPv6 form can keep its colons.
  const auto colon = target.rfind(':');
  if (colon == std::string_view::npos) {
    return invalid_argument(
        fmt::format("port '{}': target '{}' is not LOCAL_IP:PORT (e.g. udp:10.9.0.1:9000)", spec.text, target));
  }
  const std::string_view address = target.substr(0, colon);
  const std::string_view port = target.substr(colon + 1);
  const auto ip = net::parse_ipv4_be(address);
  if (!ip) {
    return invalid_argument(
        fmt::format("port '{}': '{}' is not an IPv4 address (dotted quad such as 10.9.0.1, or 0.0.0.0 for all)",
                    spec.text, address));
  }
  config.ip_be = *ip;
  unsigned long number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number > 65535) {
    return invalid_argument(fmt::format(
        "port '{}': UDP port '{}' is not a number from 0 to 65535 (0 lets the kernel choose)", spec.text, port));
  }
  config.port = static_cast<std::uint16_t>(number);

  // SO_BUSY_POLL takes an int of microseconds; a second is already absurd.
  auto busy_poll = spec.get_unsigned("busy_poll", 0, 0, 1'000'000);
  if (!busy_poll) return std::move(busy_poll).error();
  config.busy_poll_us = static_cast<unsigned>(*busy_poll);

  auto wait = spec.get_choice("wait", "spin", {"spin", "block"});
  if (!wait) return std::move(wait).error();
  config.wait = *wait == "block" ? UdpWait::block : UdpWait::spin;

  auto batch = spec.get_unsigned("batch", config.batch, 1, UdpPortConfig::kMaxBatch);
  if (!batch) return std::move(batch).error();
  config.batch = static_cast<unsigned>(*batch);
  if (auto name = spec.find("interface")) config.interface = std::string(*name);
  return config;
}

// Opens a udp port with one queue. Errors: the spec (as above), no mempool,
// a pool whose buffers cannot hold the 42 header bytes, socket/bind
// failures naming the address (not an address of this host, port in use,
// privileged port without CAP_NET_BIND_SERVICE).
[[nodiscard]] Result<std::unique_ptr<net::Port>> open_udp_port(const net::PortSpec& spec,
                                                               const net::PortOptions& options);

inline constexpr std::string_view udp_synopsis =
    "udp:LOCAL_IP:PORT[?busy_poll=USEC&wait=spin|block&batch=N&interface=NAME]";
inline constexpr std::string_view udp_summary =
    "kernel UDP socket, recvmmsg/sendmmsg, synthetic Ethernet headers (the baseline)";

}  // namespace aether::backends
