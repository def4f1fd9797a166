// Setting up the udp port's socket. Control path only.
#include "udp_socket.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <utility>

#include <fmt/format.h>

#include "aether/net/link_membership.hpp"

namespace aether::backends::udp {
namespace {

std::string endpoint_text(std::uint32_t ip_be, std::uint16_t port) {
  return fmt::format("{}:{}", net::format_ipv4_be(ip_be), port);
}

Result<void> set_int_option(int fd, int level, int name, int value, const char* option_name) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) {
    const int error = errno;
    return errno_error(fmt::format("setsockopt({}={})", option_name, value), error);
  }
  return {};
}

// The system-wide limit below which SO_BUSY_POLL needs no privilege
// (net/core/sock.c, sk_setsockopt: SO_BUSY_POLL above sysctl_net_busy_poll
// requires CAP_NET_ADMIN).
std::string busy_poll_sysctl() {
  std::ifstream file("/proc/sys/net/core/busy_poll");
  std::string value;
  if (!(file >> value)) return "unknown";
  return value;
}

// Explains a failed bind in the user's terms.
Error bind_error(const UdpPortConfig& config, int error) {
  const std::string where = endpoint_text(config.ip_be, config.port);
  switch (error) {
    case EADDRNOTAVAIL:
      return errno_error(fmt::format("udp: cannot bind {}: {} is not an address of this host (in this network "
                                     "namespace; `ip -4 addr` lists them)",
                                     where, net::format_ipv4_be(config.ip_be)),
                         error);
    case EADDRINUSE:
      return errno_error(
          fmt::format("udp: cannot bind {}: UDP port {} is already in use on that address", where, config.port), error);
    case EACCES:
      return errno_error(
          fmt::format("udp: cannot bind {}: ports below 1024 need CAP_NET_BIND_SERVICE (run as root)", where), error);
    default:
      return errno_error(fmt::format("udp: cannot bind {}", where), error);
  }
}

// Finds the interface that owns `ip_be` in the calling thread's network
// namespace (the one the socket was just made in).
std::string interface_owning(std::uint32_t ip_be) {
  if (ip_be == htonl(INADDR_ANY)) return {};
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  std::string name;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    sockaddr_in address{};
    std::memcpy(&address, entry->ifa_addr, sizeof address);
    if (address.sin_addr.s_addr == ip_be) {
      name = entry->ifa_name;
      break;
    }
  }
  freeifaddrs(list);
  return name;
}

// SIOCGIF* on an AF_INET socket answers for the socket's network namespace
// (net/core/dev_ioctl.c, dev_ioctl(sock_net(sk), ...)).
bool query_interface(int fd, const std::string& name, unsigned long request, ifreq& answer) {
  std::memset(&answer, 0, sizeof answer);
  if (name.empty() || name.size() >= sizeof answer.ifr_name) return false;
  std::memcpy(answer.ifr_name, name.data(), name.size());
  return ioctl(fd, request, &answer) == 0;
}

}  // namespace

Result<UdpSocket> UdpSocket::open(const UdpPortConfig& config, std::vector<std::string>& notes) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("udp: cannot create a UDP socket");
  UdpSocket owner(fd);

  // The kernel's count of datagrams this socket dropped (receive buffer
  // full) arrives as a SOL_SOCKET/SO_RXQ_OVFL cmsg (socket(7)).
  if (auto done = set_int_option(fd, SOL_SOCKET, SO_RXQ_OVFL, 1, "SO_RXQ_OVFL"); !done) {
    return Error{done.error().code, "udp: " + done.error().message};
  }
  // Each datagram's kernel receive time, CLOCK_REALTIME, as a
  // SOL_SOCKET/SO_TIMESTAMPNS cmsg (socket(7)): Packet::timestamp.
  if (auto done = set_int_option(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS"); !done) {
    return Error{done.error().code, "udp: " + done.error().message};
  }
  if (config.busy_poll_us != 0) {
    const int busy_poll = static_cast<int>(config.busy_poll_us);
    if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &busy_poll, sizeof busy_poll) == 0) {
      owner.busy_poll_active_ = true;
    } else if (errno == EPERM) {
      notes.push_back(fmt::format(
          "SO_BUSY_POLL={} refused: values above net.core.busy_poll={} need CAP_NET_ADMIN; receiving without busy "
          "polling",
          config.busy_poll_us, busy_poll_sysctl()));
    } else {
      notes.push_back(fmt::format("SO_BUSY_POLL={} refused ({}); receiving without busy polling", config.busy_poll_us,
                                  std::strerror(errno)));
    }
  }

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = config.ip_be;
  address.sin_port = htons(config.port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) return bind_error(config, errno);
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    return errno_error(fmt::format("udp: getsockname after binding {}", endpoint_text(config.ip_be, config.port)),
                       error);
  }
  owner.ip_be_ = address.sin_addr.s_addr;
  owner.port_be_ = address.sin_port;

  owner.interface_name_ = interface_owning(owner.ip_be_);
  ifreq answer{};
  if (query_interface(fd, owner.interface_name_, SIOCGIFMTU, answer) && answer.ifr_mtu > 0) {
    owner.mtu_ = static_cast<unsigned>(answer.ifr_mtu);
  }
  owner.multicast_interface_ = config.interface.empty() ? owner.interface_name_ : config.interface;
  if (!owner.multicast_interface_.empty()) {
    owner.multicast_ifindex_ = if_nametoindex(owner.multicast_interface_.c_str());
    if (owner.multicast_ifindex_ == 0) {
      return errno_error(fmt::format("udp: interface '{}' (for multicast) does not exist in this network namespace",
                                     owner.multicast_interface_));
    }
    // Datagrams to a group leave through the same interface (ip(7),
    // IP_MULTICAST_IF), not the one the routing table would pick, if any.
    ip_mreqn out{};
    out.imr_ifindex = static_cast<int>(owner.multicast_ifindex_);
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &out, sizeof out) != 0) {
      return errno_error(fmt::format("udp: IP_MULTICAST_IF {}", owner.multicast_interface_));
    }
  }
  return owner;
}

namespace {

Result<void> change_membership(int fd, int option, std::uint32_t group_be, unsigned ifindex,
                               const std::string& interface) {
  const std::string where = interface.empty() ? std::string("the interface the route picks") : interface;
  if (!net::is_ipv4_multicast(group_be)) {
    return invalid_argument(
        fmt::format("udp: {} is not an IPv4 multicast group (224.0.0.0/4)", net::format_ipv4_be(group_be)));
  }
  ip_mreqn request{};
  request.imr_multiaddr.s_addr = group_be;
  request.imr_ifindex = static_cast<int>(ifindex);
  if (setsockopt(fd, IPPROTO_IP, option, &request, sizeof request) == 0) return {};
  const int error = errno;
  const char* what = option == IP_ADD_MEMBERSHIP ? "IP_ADD_MEMBERSHIP" : "IP_DROP_MEMBERSHIP";
  return errno_error(fmt::format("udp: {} of {} on {}", what, net::format_ipv4_be(group_be), where), error);
}

}  // namespace

Result<void> UdpSocket::join_multicast(std::uint32_t group_be) {
  if (std::find(groups_be_.begin(), groups_be_.end(), group_be) != groups_be_.end()) return {};
  if (auto done = change_membership(fd_, IP_ADD_MEMBERSHIP, group_be, multicast_ifindex_, multicast_interface_); !done) {
    return done;
  }
  groups_be_.push_back(group_be);
  return {};
}

Result<void> UdpSocket::leave_multicast(std::uint32_t group_be) {
  const auto joined = std::find(groups_be_.begin(), groups_be_.end(), group_be);
  if (joined == groups_be_.end()) {
    return invalid_argument(fmt::format("udp: cannot leave {}: this port has not joined it",
                                        net::format_ipv4_be(group_be)));
  }
  if (auto done = change_membership(fd_, IP_DROP_MEMBERSHIP, group_be, multicast_ifindex_, multicast_interface_);
      !done) {
    return done;
  }
  groups_be_.erase(joined);
  return {};
}

UdpSocket::UdpSocket(UdpSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      ip_be_(other.ip_be_),
      port_be_(other.port_be_),
      busy_poll_active_(other.busy_poll_active_),
      interface_name_(std::move(other.interface_name_)),
      mtu_(other.mtu_),
      multicast_interface_(std::move(other.multicast_interface_)),
      multicast_ifindex_(other.multicast_ifindex_),
      groups_be_(std::move(other.groups_be_)) {}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    ip_be_ = other.ip_be_;
    port_be_ = other.port_be_;
    busy_poll_active_ = other.busy_poll_active_;
    interface_name_ = std::move(other.interface_name_);
    mtu_ = other.mtu_;
    multicast_interface_ = std::move(other.multicast_interface_);
    multicast_ifindex_ = other.multicast_ifindex_;
    groups_be_ = std::move(other.groups_be_);
  }
  return *this;
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) close(fd_);
}

net::LinkState UdpSocket::link_state() const {
  if (fd_ < 0) return net::LinkState::down;
  if (interface_name_.empty()) return net::LinkState::up;
  ifreq answer{};
  if (!query_interface(fd_, interface_name_, SIOCGIFFLAGS, answer)) return net::LinkState::unknown;
  return (answer.ifr_flags & IFF_RUNNING) != 0 ? net::LinkState::up : net::LinkState::down;
}

}  // namespace aether::backends::udp
