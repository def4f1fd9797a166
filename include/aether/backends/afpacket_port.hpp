// afpacket: AF_PACKET sockets with TPACKET mmap rings on one interface.
//
//   afpacket:IFNAME[?version=2|3&frames=N&frame_size=N&block_size=N&block_timeout_ms=N&qdisc_bypass=0|1
//                    &wait=spin|block]
//
//   version           rx ring format (default 2, see below)
//   frames            frames per ring, rx and tx alike (default 2048)
//   frame_size        bytes per ring frame, a multiple of 16 (default 2048:
//                     room for a 1500-mtu frame after the ring's own header)
//   block_size        bytes per ring block, a multiple of the page size
//                     (default 262144); frames x frame_size must fill whole
//                     blocks
//   block_timeout_ms  TPACKET_V3 only: the kernel hands over a block that is
//                     not full after this long (default 1; 0 lets the kernel
//                     pick from the link speed, typically 8 ms)
//   qdisc_bypass      PACKET_QDISC_BYPASS on tx (default 1): frames go
//                     straight to the driver, skipping the qdisc layer
//   wait              spin (default): no rx_interrupt_fd(), a worker busy-polls
//                     the ring. block: rx_interrupt_fd() is an epoll fd on the
//                     rx socket (readable while the ring holds a frame for user
//                     space, af_packet.c packet_poll): an idle worker sleeps
//                     on it. rx_burst never blocks in either mode.
//
// Contract extras: Packet::timestamp is the ring header's kernel receive
// time (tp_sec/tp_nsec, CLOCK_REALTIME) mapped onto net::RxClock;
// join_multicast and set_promiscuous are PACKET_ADD_MEMBERSHIP on the
// netdev (net::LinkMembership). xstats: multicast_groups, promiscuous,
// rx_ring_freezes (TPACKET_V3 queue freezes, tp_freeze_q_cnt).
//
// Why TPACKET_V2 by default, though V3 is the newer format: V3 hands a
// whole block of frames to user space only when the block is full or its
// retire timer (block_timeout_ms, millisecond granularity) fires, so at a
// low or moderate rate every frame waits up to that long. V2 hands each
// frame over as soon as it is written. A latency-sensitive user wants V2;
// V3 fits capture-style throughput with few wake-ups. Measured with the
// one-thread ping-pong of tests/integration/afpacket_port_test.cpp (veth
// pair, 64-byte frames, both ends on this port, 2 vCPU VM, Linux 6.18):
//   TPACKET_V2                          p50    5.6 us   p99    10 us
//   TPACKET_V3, block_timeout_ms=1      p50 1004   us   p99 10014 us
//   TPACKET_V3, kernel's timeout (0)    p50 16.0   ms   p99  24.6 ms
// (udp, for comparison: p50 6.7 us, p99 8 us.)
//
// Layout: one rx socket (ETH_P_ALL, bound to the interface, its rx ring in
// the chosen version, PACKET_IGNORE_OUTGOING so that it never sees its own
// or the host's transmissions) and one tx socket (protocol 0, so it receives
// nothing; a TPACKET_V2 tx ring; PACKET_QDISC_BYPASS; PACKET_LOSS, so that a
// frame the kernel refuses is skipped rather than stalling the ring).
//
// Data path:
// - rx_burst copies each ready frame from the ring into a Packet from the
//   queue's MempoolCache and returns the ring frame (V2) or the block, once
//   read to its end (V3), to the kernel. With no buffer, the frame is still
//   returned to the kernel (the ring never stalls) and counted
//   rx_drop_no_buffer. A frame the ring truncated (longer than the ring
//   frame) or that does not fit a buffer counts rx_drop_truncated. A VLAN
//   tag the kernel took out of the frame (TP_STATUS_VLAN_VALID) is put
//   back. No syscall, except reading PACKET_STATISTICS (which also
//   resets it) into rx_drop_kernel when a frame carries TP_STATUS_LOSING
//   (the kernel marks every frame written while it has unread drops) and
//   once every 2^20 bursts, to catch drops that no frame followed.
// - tx_burst copies each frame into the tx ring and kicks the kernel with
//   one send(MSG_DONTWAIT) per burst. A full ring stops the burst (the
//   caller keeps the rest). Frames shorter than 14 bytes, chained, longer
//   than the ring frame or than mtu + 14 (+ 4 if VLAN-tagged) are taken and
//   counted tx_drop_bad_frame. If a kick was refused for lack of room
//   (EAGAIN/ENOBUFS) the frames stay queued and the next rx_burst or
//   tx_burst kicks again.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "aether/core/result.hpp"
#include "aether/net/port.hpp"
#include "aether/net/port_spec.hpp"

namespace aether::backends {

// An afpacket spec, parsed and checked.
struct AfPacketConfig {
  std::string interface;
  unsigned version = 2;  // TPACKET_V2 or TPACKET_V3 for the rx ring
  unsigned frames = 2048;
  unsigned frame_size = 2048;
  unsigned block_size = 1u << 18;
  unsigned block_timeout_ms = 1;
  bool qdisc_bypass = true;
  bool wait_block = false;  // wait=block: the queue offers an rx interrupt fd

  // IFNAMSIZ (include/uapi/linux/if.h), without <net/if.h> in a public header.
  static constexpr std::size_t kInterfaceNameSize = 16;
  // TPACKET_ALIGNMENT (include/uapi/linux/if_packet.h): frames start 16-byte aligned.
  static constexpr unsigned kFrameAlignment = 16;
  // Below this a frame has no room for a minimum Ethernet frame after the
  // ring's own header (V2 puts rx data at offset 66, tx data at offset 32).
  static constexpr unsigned kMinFrameSize = 128;
  // Large enough for any sane ring, small enough that sizes stay in 32 bits.
  static constexpr unsigned kMaxFrames = 1u << 20;
  static constexpr unsigned kMaxFrameSize = 1u << 16;
  static constexpr unsigned kMaxBlockSize = 1u << 28;
  static constexpr unsigned kMaxBlockTimeoutMs = 60'000;
};

// Parses the interface name and parameters of an afpacket spec and checks
// the ring geometry the kernel will demand (net/packet/af_packet.c,
// packet_set_ring): frame_size a multiple of 16, block_size a multiple of
// the page size and at least frame_size, frames filling whole blocks.
// Errors name the spec, the key, the value and what is allowed.
// Inline (pure logic on aether::net only), so that specs can be checked
// and tested without linking the backend, as afxdp_port.hpp does.
[[nodiscard]] inline Result<AfPacketConfig> parse_afpacket_config(const net::PortSpec& spec) {
  using Config = AfPacketConfig;
  if (auto known =
          spec.check_keys({"version", "frames", "frame_size", "block_size", "block_timeout_ms", "qdisc_bypass", "wait"});
      !known) {
    return std::move(known).error();
  }
  Config config;
  config.interface = spec.target;
  if (config.interface.size() >= Config::kInterfaceNameSize || config.interface.find('/') != std::string::npos) {
    return invalid_argument(fmt::format("port '{}': '{}' is not an interface name (at most {} characters, no '/')",
                                        spec.text, config.interface, Config::kInterfaceNameSize - 1));
  }
  auto version = spec.get_choice("version", "2", {"2", "3"});
  if (!version) return std::move(version).error();
  config.version = *version == "3" ? 3 : 2;
  if (spec.find("block_timeout_ms") && config.version != 3) {
    return invalid_argument(fmt::format("port '{}': block_timeout_ms applies to version=3 only", spec.text));
  }
  struct Number {
    std::string_view key;
    unsigned& value;
    unsigned min;
    unsigned max;
  };
  for (const Number number : {Number{"frames", config.frames, 1, Config::kMaxFrames},
                              Number{"frame_size", config.frame_size, Config::kMinFrameSize, Config::kMaxFrameSize},
                              Number{"block_size", config.block_size, 1, Config::kMaxBlockSize},
                              Number{"block_timeout_ms", config.block_timeout_ms, 0, Config::kMaxBlockTimeoutMs}}) {
    auto value = spec.get_unsigned(number.key, number.value, number.min, number.max);
    if (!value) return std::move(value).error();
    number.value = static_cast<unsigned>(*value);
  }
  auto bypass = spec.get_bool("qdisc_bypass", config.qdisc_bypass);
  if (!bypass) return std::move(bypass).error();
  config.qdisc_bypass = *bypass;
  auto wait = spec.get_choice("wait", "spin", {"spin", "block"});
  if (!wait) return std::move(wait).error();
  config.wait_block = *wait == "block";

  // The checks of packet_set_ring, said in spec terms.
  if (config.frame_size % Config::kFrameAlignment != 0) {
    return invalid_argument(fmt::format("port '{}': frame_size={} must be a multiple of {}", spec.text,
                                        config.frame_size, Config::kFrameAlignment));
  }
  const auto page_size = static_cast<unsigned>(sysconf(_SC_PAGESIZE));
  if (config.block_size % page_size != 0 || config.block_size < config.frame_size) {
    return invalid_argument(
        fmt::format("port '{}': block_size={} must be a multiple of the page size ({}) and at least frame_size={}",
                    spec.text, config.block_size, page_size, config.frame_size));
  }
  const unsigned frames_per_block = config.block_size / config.frame_size;
  if (config.frames % frames_per_block != 0) {
    return invalid_argument(fmt::format(
        "port '{}': frames={} must fill whole blocks of block_size/frame_size = {}/{} = {} frames (use a multiple "
        "of {}, or a smaller block_size)",
        spec.text, config.frames, config.block_size, config.frame_size, frames_per_block, frames_per_block));
  }
  return config;
}

// Opens an afpacket port with one queue. Errors say which interface is
// missing, that CAP_NET_RAW is needed, or which ring option the kernel
// refused with which sizes.
[[nodiscard]] Result<std::unique_ptr<net::Port>> open_afpacket_port(const net::PortSpec& spec,
                                                                    const net::PortOptions& options);

inline constexpr std::string_view afpacket_synopsis =
    "afpacket:IFNAME[?version=2|3&frames=N&frame_size=N&block_size=N&block_timeout_ms=N&qdisc_bypass=0|1&wait=spin|"
    "block]";
inline constexpr std::string_view afpacket_summary =
    "AF_PACKET mmap rings (TPACKET_V2 rx by default, V3 on request), tx ring with qdisc bypass";

}  // namespace aether::backends
