// Setting up AF_PACKET sockets and their TPACKET rings. Control path only.
#include "packet_socket.hpp"

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace aether::backends::afpacket {
namespace {

// An Error carrying errno as it was before the message was formatted
// (formatting allocates, and allocation may change errno).
template <class... Args>
Error system_failure(fmt::format_string<Args...> format, Args&&... args) {
  const int error = errno;
  return errno_error(fmt::format(format, std::forward<Args>(args)...), error);
}

// Fills ifr_name; the name's length was checked when the spec was parsed.
ifreq request_for(const std::string& interface) {
  ifreq request{};
  std::memcpy(request.ifr_name, interface.data(), std::min(interface.size(), sizeof request.ifr_name - 1));
  return request;
}

}  // namespace

RingGeometry ring_geometry(const AfPacketConfig& config) noexcept {
  RingGeometry geometry;
  geometry.block_size = config.block_size;
  geometry.frame_size = config.frame_size;
  geometry.frame_count = config.frames;
  geometry.block_count = config.frames / geometry.frames_per_block();
  return geometry;
}

Result<PacketSocket> PacketSocket::create(const std::string& interface) {
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EPERM || errno == EACCES) {
      return system_failure(
          "afpacket {}: cannot create an AF_PACKET socket: needs CAP_NET_RAW (run as root, "
          "or setcap cap_net_raw+ep on the binary)",
          interface);
    }
    return system_failure("afpacket {}: cannot create an AF_PACKET socket", interface);
  }
  return PacketSocket(fd, interface);
}

PacketSocket::PacketSocket(PacketSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      interface_(std::move(other.interface_)),
      ring_(std::exchange(other.ring_, nullptr)),
      geometry_(other.geometry_),
      qdisc_bypass_active_(other.qdisc_bypass_active_) {}

PacketSocket& PacketSocket::operator=(PacketSocket&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    interface_ = std::move(other.interface_);
    ring_ = std::exchange(other.ring_, nullptr);
    geometry_ = other.geometry_;
    qdisc_bypass_active_ = other.qdisc_bypass_active_;
  }
  return *this;
}

PacketSocket::~PacketSocket() { release(); }

void PacketSocket::release() noexcept {
  if (ring_ != nullptr) munmap(ring_, geometry_.bytes());
  ring_ = nullptr;
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Result<InterfaceDetails> PacketSocket::query_interface() const {
  // A packet socket passes SIOCGIF* on to the inet ioctls, which answer for
  // the socket's network namespace (net/packet/af_packet.c, packet_ioctl).
  InterfaceDetails details;
  ifreq request = request_for(interface_);
  if (ioctl(fd_, SIOCGIFINDEX, &request) != 0) {
    if (errno == ENODEV) {
      return system_failure("afpacket: no interface '{}' in this network namespace (`ip link` lists them)", interface_);
    }
    return system_failure("afpacket {}: SIOCGIFINDEX", interface_);
  }
  details.index = request.ifr_ifindex;
  request = request_for(interface_);
  if (ioctl(fd_, SIOCGIFHWADDR, &request) != 0) return system_failure("afpacket {}: SIOCGIFHWADDR", interface_);
  const auto type = request.ifr_hwaddr.sa_family;
  if (type != ARPHRD_ETHER && type != ARPHRD_LOOPBACK) {
    return invalid_argument(
        fmt::format("afpacket: interface '{}' is not Ethernet (ARPHRD type {}); afpacket ports "
                    "carry Ethernet frames",
                    interface_, type));
  }
  std::memcpy(details.mac.data(), request.ifr_hwaddr.sa_data, details.mac.size());
  request = request_for(interface_);
  if (ioctl(fd_, SIOCGIFMTU, &request) != 0) return system_failure("afpacket {}: SIOCGIFMTU", interface_);
  details.mtu = static_cast<unsigned>(request.ifr_mtu);
  return details;
}

net::LinkState PacketSocket::link_state() const {
  ifreq request = request_for(interface_);
  if (fd_ < 0 || ioctl(fd_, SIOCGIFFLAGS, &request) != 0) return net::LinkState::unknown;
  return (request.ifr_flags & IFF_RUNNING) != 0 ? net::LinkState::up : net::LinkState::down;
}

Result<void> PacketSocket::set_option(int name, int value, const char* option_name) {
  if (setsockopt(fd_, SOL_PACKET, name, &value, sizeof value) != 0) {
    return system_failure("afpacket {}: the kernel refused {}={}", interface_, option_name, value);
  }
  return {};
}

Result<void> PacketSocket::setup_rx_ring(const AfPacketConfig& config) {
  const int version = config.version == 3 ? TPACKET_V3 : TPACKET_V2;
  if (auto done = set_option(PACKET_VERSION, version, "PACKET_VERSION"); !done) return done;
  geometry_ = ring_geometry(config);
  int status = 0;
  if (config.version == 3) {
    tpacket_req3 request{};
    request.tp_block_size = geometry_.block_size;
    request.tp_block_nr = geometry_.block_count;
    request.tp_frame_size = geometry_.frame_size;
    request.tp_frame_nr = geometry_.frame_count;
    request.tp_retire_blk_tov = config.block_timeout_ms;
    status = setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &request, sizeof request);
  } else {
    tpacket_req request{geometry_.block_size, geometry_.block_count, geometry_.frame_size, geometry_.frame_count};
    status = setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &request, sizeof request);
  }
  if (status != 0) {
    return system_failure(
        "afpacket {}: the kernel refused PACKET_RX_RING (TPACKET_V{}, block_size={} "
        "block_nr={} frame_size={} frame_nr={}{})",
        interface_, config.version, geometry_.block_size, geometry_.block_count, geometry_.frame_size,
        geometry_.frame_count,
        config.version == 3 ? fmt::format(" retire_blk_tov={}ms", config.block_timeout_ms) : std::string());
  }
  return map_ring("rx");
}

Result<void> PacketSocket::setup_tx_ring(const AfPacketConfig& config, std::vector<std::string>& notes) {
  if (auto done = set_option(PACKET_VERSION, TPACKET_V2, "PACKET_VERSION"); !done) return done;
  // Without PACKET_LOSS a frame the kernel cannot send is marked
  // TP_STATUS_WRONG_FORMAT and every later send stops at it
  // (af_packet.c, tpacket_snd); with it the frame is skipped.
  if (auto done = set_option(PACKET_LOSS, 1, "PACKET_LOSS"); !done) return done;
  if (config.qdisc_bypass) {
    if (auto bypass = set_option(PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS"); bypass) {
      qdisc_bypass_active_ = true;
    } else {
      notes.push_back(fmt::format("{}; tx goes through the qdisc", bypass.error().describe()));
    }
  }
  geometry_ = ring_geometry(config);
  tpacket_req request{geometry_.block_size, geometry_.block_count, geometry_.frame_size, geometry_.frame_count};
  if (setsockopt(fd_, SOL_PACKET, PACKET_TX_RING, &request, sizeof request) != 0) {
    return system_failure(
        "afpacket {}: the kernel refused PACKET_TX_RING (TPACKET_V2, block_size={} "
        "block_nr={} frame_size={} frame_nr={})",
        interface_, geometry_.block_size, geometry_.block_count, geometry_.frame_size, geometry_.frame_count);
  }
  return map_ring("tx");
}

Result<void> PacketSocket::map_ring(const char* which) {
  // MAP_POPULATE: fault every page in now, not on the data path.
  void* ring = mmap(nullptr, geometry_.bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
  if (ring == MAP_FAILED) {
    return system_failure("afpacket {}: cannot mmap the {} ring ({} bytes)", interface_, which, geometry_.bytes());
  }
  ring_ = static_cast<std::byte*>(ring);
  return {};
}

Result<void> PacketSocket::bind_to(int interface_index, std::uint16_t protocol) {
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(protocol);
  address.sll_ifindex = interface_index;
  if (bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return system_failure("afpacket {}: cannot bind the packet socket", interface_);
  }
  return {};
}

}  // namespace aether::backends::afpacket
