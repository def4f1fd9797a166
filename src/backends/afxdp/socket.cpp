// AF_XDP socket creation, binding and socket options (see socket.hpp).
#include "socket.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace aether::backends::afxdp {
namespace {

// Linux 6.17 UAPI (include/uapi/linux/if_xdp.h); absent from Debian 12's
// headers. Older kernels answer ENOPROTOOPT.
#ifndef XDP_MAX_TX_SKB_BUDGET
constexpr int XDP_MAX_TX_SKB_BUDGET = 9;
#endif

std::string describe_flags(std::uint16_t flags) {
  std::string text = (flags & XDP_ZEROCOPY) != 0 ? "XDP_ZEROCOPY" : (flags & XDP_COPY) != 0 ? "XDP_COPY" : "no mode";
  if ((flags & XDP_USE_NEED_WAKEUP) != 0) text += " | XDP_USE_NEED_WAKEUP";
  return text;
}

}  // namespace

Result<std::unique_ptr<XskSocket>> XskSocket::create(Umem& umem, const XskSocketConfig& config) {
  std::unique_ptr<XskSocket> socket(new XskSocket());
  xsk_socket_config socket_config{};
  socket_config.rx_size = config.ring_size;
  socket_config.tx_size = config.ring_size;
  // Our own program and XSKMAP (xdp_program.hpp); libxdp must not load its
  // dispatcher. xdp_flags only matter to that program load.
  socket_config.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  socket_config.xdp_flags = 0;
  socket_config.bind_flags = config.bind_flags;
  const int result = xsk_socket__create(&socket->socket_, config.interface.c_str(), config.queue, umem.handle(),
                                        &socket->rx_, &socket->tx_, &socket_config);
  if (result != 0) {
    socket->socket_ = nullptr;
    const int error = -result;
    std::string why;
    switch (error) {
      case ENODEV:
      case ENXIO: why = "no such interface in this network namespace"; break;
      case EOPNOTSUPP:
        why = (config.bind_flags & XDP_ZEROCOPY) != 0
                  ? "the driver has no AF_XDP zero-copy support"
                  : "the driver refused the socket";
        break;
      case EBUSY: why = fmt::format("queue {} already has an AF_XDP socket or UMEM bound", config.queue); break;
      case EINVAL:
        why = fmt::format("queue {} does not exist on this interface, or the flags were refused", config.queue);
        break;
      case EPERM:
      case EACCES: why = "AF_XDP sockets need CAP_NET_RAW (run as root)"; break;
      default: why = std::strerror(error); break;
    }
    return errno_error(fmt::format("cannot bind an AF_XDP socket to '{}' queue {} with {}: {}", config.interface,
                                   config.queue, describe_flags(config.bind_flags), why),
                       error);
  }
  socket->fd_ = xsk_socket__fd(socket->socket_);
  return socket;
}

XskSocket::~XskSocket() {
  // Unmaps the rx/tx rings. The fd is the UMEM's and closes with the Umem.
  if (socket_ != nullptr) xsk_socket__delete(socket_);
}

bool XskSocket::zero_copy() const noexcept {
  xdp_options options{};
  socklen_t length = sizeof(options);
  if (getsockopt(fd_, SOL_XDP, XDP_OPTIONS, &options, &length) != 0) return false;
  return (options.flags & XDP_OPTIONS_ZEROCOPY) != 0;
}

bool XskSocket::enable_busy_poll(std::uint32_t usec, std::uint32_t budget, std::vector<std::string>& notes) const {
  // Values and semantics: socket(7) and Documentation/networking/napi.rst
  // ("Preferred busy polling"). All three need CAP_NET_ADMIN to raise.
  const int prefer = 1;
  if (setsockopt(fd_, SOL_SOCKET, SO_PREFER_BUSY_POLL, &prefer, sizeof(prefer)) != 0) {
    notes.push_back(fmt::format("SO_PREFER_BUSY_POLL refused ({}): busy polling without preference, so device "
                                "interrupts still run the NAPI poll",
                                std::strerror(errno)));
  }
  const int busy_usec = static_cast<int>(usec);
  if (setsockopt(fd_, SOL_SOCKET, SO_BUSY_POLL, &busy_usec, sizeof(busy_usec)) != 0) {
    notes.push_back(fmt::format("SO_BUSY_POLL={} refused ({}): continuing without busy polling", usec,
                                std::strerror(errno)));
    return false;
  }
  const int busy_budget = static_cast<int>(budget);
  if (setsockopt(fd_, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &busy_budget, sizeof(busy_budget)) != 0) {
    notes.push_back(fmt::format("SO_BUSY_POLL_BUDGET={} refused ({}): the kernel's default budget (8) applies",
                                budget, std::strerror(errno)));
  }
  return true;
}

void XskSocket::raise_copy_tx_budget(std::uint32_t budget, std::vector<std::string>& notes) const {
  const unsigned value = budget;
  if (setsockopt(fd_, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &value, sizeof(value)) == 0) {
    notes.push_back(fmt::format("copy-mode tx: up to {} frames per sendto (XDP_MAX_TX_SKB_BUDGET)", budget));
    return;
  }
  notes.push_back(fmt::format("copy-mode tx: the kernel sends at most 32 frames per sendto (XDP_MAX_TX_SKB_BUDGET "
                              "refused: {}; it needs Linux 6.17), so a larger burst costs one sendto per 32",
                              std::strerror(errno)));
}

bool XskSocket::statistics(xdp_statistics& out) const noexcept {
  out = {};
  socklen_t length = sizeof(out);
  // Kernels before 5.9 fill only the first three fields (and say so in
  // `length`); the rest stay zero.
  return getsockopt(fd_, SOL_XDP, XDP_STATISTICS, &out, &length) == 0;
}

}  // namespace aether::backends::afxdp
