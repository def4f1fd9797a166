// The memif control channel's socket: AF_UNIX, SOCK_SEQPACKET, one
// 128-byte message per datagram, at most one fd per message (SCM_RIGHTS).
//
// Addresses: a filesystem path, or a name in the abstract namespace
// (`memif:@name`). Abstract addresses are bound with the compact length
// (offsetof(sun_path) + 1 + strlen(name)), which is what DPDK
// (memif_socket_create, memif_connect_client) and libmemif use: an
// abstract name is length-sensitive, so padding it to sizeof(sockaddr_un)
// would name another socket. Abstract names live in the network namespace.
//
// All sockets are non-blocking and close-on-exec; received fds are
// close-on-exec (MSG_CMSG_CLOEXEC). Control path only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "file_descriptor.hpp"
#include "messages.hpp"

namespace aether::backends::memif {

struct SocketAddress {
  std::string name;       // path, or abstract name without the leading NUL
  bool abstract = false;
  // "@name" or the path, as a user would write it in a spec.
  [[nodiscard]] std::string describe() const { return abstract ? "@" + name : name; }
};

// The longest name sun_path holds: 107 characters and a NUL for a path;
// 107 after the leading NUL for an abstract name.
inline constexpr std::size_t kMaxSocketNameLength = 107;

// A listening socket; for a path also the lock that makes it ours.
struct Listener {
  FileDescriptor socket;
  FileDescriptor lock;  // flock(LOCK_EX) on PATH.lock while we listen (paths only)
};
// Binds and listens. For a path: creates missing directories with mode
// 0700; takes an exclusive flock on PATH.lock first, so two Aether servers
// never race on one path; a path locked by another, or bound by a live
// listener of any program, is refused ("in use"); a stale socket file
// (nobody accepts on it, e.g. left by a killed process) is removed first.
[[nodiscard]] Result<Listener> listen_control_socket(const SocketAddress& address);
// Connects without blocking; ENOENT and ECONNREFUSED mean "no server yet".
[[nodiscard]] Result<FileDescriptor> connect_control_socket(const SocketAddress& address);
[[nodiscard]] Result<FileDescriptor> accept_control_socket(int listener);

// Who may be the peer: a uid or a gid in these lists (SO_PEERCRED: the
// credentials the peer had when it connected, or its listener bound).
struct PeerAllowlist {
  std::vector<std::uint32_t> uids;
  std::vector<std::uint32_t> gids;
};
// Refuses a peer not on the list; the error names its uid, gid and pid, and
// is short enough for a DISCONNECT reason.
[[nodiscard]] Result<void> check_peer_credentials(int socket, const PeerAllowlist& allowed);

// Sends one message, with `attached_fd` as SCM_RIGHTS if >= 0. Never blocks:
// a peer that does not read its socket gets an error, not our thread.
[[nodiscard]] Result<void> send_message(int socket, const WireMessage& message, int attached_fd = -1);

struct ReceivedMessage {
  bool end_of_stream = false;  // the peer closed the socket
  std::size_t size = 0;        // datagram bytes (may differ from kMessageSize: then it is malformed)
  bool truncated = false;      // the datagram or its control data did not fit
  WireMessage bytes{};
  FileDescriptor fd;           // the first fd that came with it
  unsigned fd_count = 0;       // how many came (extras are closed here)
};
// Reads one datagram. Errors only for socket failures (EAGAIN included).
[[nodiscard]] Result<ReceivedMessage> receive_message(int socket);

}  // namespace aether::backends::memif
