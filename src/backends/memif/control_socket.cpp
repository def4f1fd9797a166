// The memif control socket: addresses, listen/connect/accept, and one
// message with at most one fd per datagram.
#include "control_socket.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace aether::backends::memif {
namespace {

constexpr int kSocketFlags = SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC;

struct UnixAddress {
  sockaddr_un address{};
  socklen_t length = 0;
};

UnixAddress to_unix(const SocketAddress& address) {
  UnixAddress out;
  out.address.sun_family = AF_UNIX;
  if (address.abstract) {
    out.address.sun_path[0] = '\0';
    std::memcpy(out.address.sun_path + 1, address.name.data(), address.name.size());
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + address.name.size());
  } else {
    std::memcpy(out.address.sun_path, address.name.data(), address.name.size());
    out.length = static_cast<socklen_t>(sizeof(sockaddr_un));
  }
  return out;
}

Result<FileDescriptor> new_socket(const SocketAddress& address) {
  if (address.name.empty() || address.name.size() > kMaxSocketNameLength) {
    return invalid_argument(fmt::format("memif socket name '{}' must have 1 to {} characters", address.describe(),
                                        kMaxSocketNameLength));
  }
  FileDescriptor fd(::socket(AF_UNIX, kSocketFlags, 0));
  if (!fd.valid()) return errno_error("socket(AF_UNIX, SOCK_SEQPACKET) failed");
  return fd;
}

// Creates the missing directories above `path`, mode 0700: a directory
// Aether makes is nobody else's to bind or squat in. Existing ones are left
// as they are.
Result<void> make_socket_directory(const std::string& path) {
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const std::string directory = path.substr(0, slash);
    if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
      return errno_error(fmt::format("cannot create memif socket directory {}", directory));
    }
  }
  return {};
}

// A socket file nobody listens on any more (its process died) refuses
// connections: it may be replaced. A live one accepts. Called with the
// path's lock held, so no other Aether server binds it meanwhile.
Result<void> remove_stale_socket_file(const SocketAddress& address) {
  struct stat status{};
  if (::lstat(address.name.c_str(), &status) != 0) {
    if (errno == ENOENT) return {};
    return errno_error(fmt::format("cannot stat memif socket {}", address.name));
  }
  if (!S_ISSOCK(status.st_mode)) {
    return invalid_argument(fmt::format("memif socket {} exists and is not a socket", address.name));
  }
  auto probe = new_socket(address);
  if (!probe) return std::move(probe).error();
  const UnixAddress unix_address = to_unix(address);
  if (::connect(probe->get(), reinterpret_cast<const sockaddr*>(&unix_address.address), unix_address.length) == 0 ||
      errno == EAGAIN) {
    return Error{std::make_error_code(std::errc::address_in_use),
                 fmt::format("memif socket {} is in use by a listening process", address.name)};
  }
  if (errno != ECONNREFUSED) return errno_error(fmt::format("cannot probe memif socket {}", address.name));
  if (::unlink(address.name.c_str()) != 0 && errno != ENOENT) {
    return errno_error(fmt::format("cannot remove stale memif socket {}", address.name));
  }
  return {};
}

}  // namespace

Result<Listener> listen_control_socket(const SocketAddress& address) {
  auto fd = new_socket(address);
  if (!fd) return std::move(fd).error();
  Listener listener;
  if (!address.abstract) {
    if (auto made = make_socket_directory(address.name); !made) return std::move(made).error();
    const std::string lock_path = address.name + ".lock";
    listener.lock = FileDescriptor(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!listener.lock.valid()) return errno_error(fmt::format("cannot open memif socket lock {}", lock_path));
    if (::flock(listener.lock.get(), LOCK_EX | LOCK_NB) != 0) {
      return Error{std::make_error_code(std::errc::address_in_use),
                   fmt::format("memif socket {} is in use (another server holds {})", address.name, lock_path)};
    }
    if (auto removed = remove_stale_socket_file(address); !removed) return std::move(removed).error();
  }
  const UnixAddress unix_address = to_unix(address);
  if (::bind(fd->get(), reinterpret_cast<const sockaddr*>(&unix_address.address), unix_address.length) != 0) {
    return errno_error(fmt::format("cannot bind memif socket {}", address.describe()));
  }
  // A short backlog: one peer connects at a time; the rest are turned away.
  if (::listen(fd->get(), 4) != 0) return errno_error(fmt::format("cannot listen on memif socket {}", address.describe()));
  listener.socket = std::move(*fd);
  return listener;
}

Result<void> check_peer_credentials(int socket, const PeerAllowlist& allowed) {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return errno_error("Peer credentials unknown (SO_PEERCRED failed)");
  }
  const auto listed = [](const std::vector<std::uint32_t>& ids, std::uint32_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  if (listed(allowed.uids, credentials.uid) || listed(allowed.gids, credentials.gid)) return {};
  return Error{std::make_error_code(std::errc::permission_denied),
               fmt::format("Peer uid {} gid {} (pid {}) not allowed", credentials.uid, credentials.gid,
                           credentials.pid)};
}

Result<FileDescriptor> connect_control_socket(const SocketAddress& address) {
  auto fd = new_socket(address);
  if (!fd) return fd;
  const UnixAddress unix_address = to_unix(address);
  if (::connect(fd->get(), reinterpret_cast<const sockaddr*>(&unix_address.address), unix_address.length) != 0) {
    return errno_error(fmt::format("cannot connect to memif socket {}", address.describe()));
  }
  return fd;
}

Result<FileDescriptor> accept_control_socket(int listener) {
  FileDescriptor fd(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!fd.valid()) return errno_error("accept on the memif socket failed");
  return fd;
}

Result<void> send_message(int socket, const WireMessage& message, int attached_fd) {
  iovec io{const_cast<std::byte*>(message.data()), message.size()};
  msghdr header{};
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (attached_fd >= 0) {
    header.msg_control = control;
    header.msg_controllen = sizeof(control);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &attached_fd, sizeof(int));
  }
  const ssize_t sent = ::sendmsg(socket, &header, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0) return errno_error("sendmsg on the memif socket failed");
  if (static_cast<std::size_t>(sent) != message.size()) {
    return Error{std::make_error_code(std::errc::message_size), "sendmsg on the memif socket sent a partial message"};
  }
  return {};
}

Result<ReceivedMessage> receive_message(int socket) {
  ReceivedMessage received;
  iovec io{received.bytes.data(), received.bytes.size()};
  msghdr header{};
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  // Room for a few fds and credentials: a peer sending more than one fd is
  // refused by the caller, and we want to see (and close) what it sent.
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int)) + CMSG_SPACE(sizeof(ucred))] = {};
  header.msg_control = control;
  header.msg_controllen = sizeof(control);
  const ssize_t size = ::recvmsg(socket, &header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (size < 0) return errno_error("recvmsg on the memif socket failed");
  received.end_of_stream = size == 0;
  received.size = static_cast<std::size_t>(size);
  received.truncated = (header.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&header); cmsg != nullptr; cmsg = CMSG_NXTHDR(&header, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
      ++received.fd_count;
      if (received.fd.valid()) {
        ::close(fd);  // only one fd per message is meaningful; the caller refuses the message
      } else {
        received.fd = FileDescriptor(fd);
      }
    }
  }
  return received;
}

}  // namespace aether::backends::memif
