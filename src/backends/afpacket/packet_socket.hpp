// PacketSocket: the move-only owner of one AF_PACKET socket and its mmap'ed
// TPACKET ring, and the control-path setup of both (packet(7),
// Documentation/networking/packet_mmap.rst).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "aether/backends/afpacket_port.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/port.hpp"

namespace aether::backends::afpacket {

// What tpacket_req(3) asks for: block_count blocks of block_size bytes,
// each cut into block_size / frame_size frames (V3 packs frames of any
// length into a block instead, but the kernel checks the same numbers).
struct RingGeometry {
  unsigned block_size = 0;
  unsigned block_count = 0;
  unsigned frame_size = 0;
  unsigned frame_count = 0;
  [[nodiscard]] std::size_t bytes() const noexcept { return std::size_t{block_size} * block_count; }
  [[nodiscard]] unsigned frames_per_block() const noexcept { return block_size / frame_size; }
};
[[nodiscard]] RingGeometry ring_geometry(const AfPacketConfig& config) noexcept;

struct InterfaceDetails {
  int index = 0;
  net::MacAddress mac{};
  unsigned mtu = 0;
};

class PacketSocket {
 public:
  // A SOCK_RAW packet socket that receives nothing yet (protocol 0): the
  // rx socket starts receiving only at bind(), after its ring exists, so it
  // never sees another interface's frames. Refusal names CAP_NET_RAW.
  static Result<PacketSocket> create(const std::string& interface);

  PacketSocket(PacketSocket&& other) noexcept;
  PacketSocket& operator=(PacketSocket&& other) noexcept;
  PacketSocket(const PacketSocket&) = delete;
  PacketSocket& operator=(const PacketSocket&) = delete;
  ~PacketSocket();  // unmaps the ring, then closes the socket

  // SIOCGIFINDEX/SIOCGIFHWADDR/SIOCGIFMTU, in the socket's own namespace.
  // Errors name the interface: missing, or not Ethernet.
  [[nodiscard]] Result<InterfaceDetails> query_interface() const;
  // IFF_RUNNING of the interface, asked now.
  [[nodiscard]] net::LinkState link_state() const;

  // PACKET_VERSION, then PACKET_RX_RING (tpacket_req3 for V3, with
  // config.block_timeout_ms), then mmap. Errors name the option and sizes.
  [[nodiscard]] Result<void> setup_rx_ring(const AfPacketConfig& config);
  // TPACKET_V2, PACKET_LOSS, PACKET_TX_RING, mmap. PACKET_QDISC_BYPASS if
  // asked; a refusal is a note, and qdisc_bypass_active() says so.
  [[nodiscard]] Result<void> setup_tx_ring(const AfPacketConfig& config, std::vector<std::string>& notes);
  // Sets an int socket option; the error names it.
  [[nodiscard]] Result<void> set_option(int name, int value, const char* option_name);
  // Binds to the interface for `protocol` (host order; 0 receives nothing).
  [[nodiscard]] Result<void> bind_to(int interface_index, std::uint16_t protocol);

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] std::byte* ring() const noexcept { return ring_; }
  [[nodiscard]] const RingGeometry& geometry() const noexcept { return geometry_; }
  [[nodiscard]] bool qdisc_bypass_active() const noexcept { return qdisc_bypass_active_; }
  [[nodiscard]] const std::string& interface() const noexcept { return interface_; }

 private:
  PacketSocket(int fd, std::string interface) noexcept : fd_(fd), interface_(std::move(interface)) {}
  [[nodiscard]] Result<void> map_ring(const char* which);
  void release() noexcept;

  int fd_ = -1;
  std::string interface_;
  std::byte* ring_ = nullptr;
  RingGeometry geometry_;
  bool qdisc_bypass_active_ = false;
};

}  // namespace aether::backends::afpacket
