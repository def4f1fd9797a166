// ReadinessFd: a Queue::rx_interrupt_fd() for a kernel socket.
//
// The worker sleeps in poll(2) on a queue's interrupt fd and, woken, reads
// 8 bytes from it (an eventfd resets so). A socket's own fd would lose a
// datagram to that read, so socket backends hand out an epoll fd instead,
// watching the socket for EPOLLIN, level-triggered: it is readable exactly
// while the socket has something to receive (epoll(7): an epoll fd is
// itself pollable), and reading it consumes nothing (read(2) on an epoll fd
// fails with EINVAL). No arming is needed: set_rx_interrupt() is a no-op.
#pragma once

#include <string>

#include "aether/core/result.hpp"

namespace aether::net {

class ReadinessFd {
 public:
  // An epoll fd watching `socket_fd` (which must outlive it) for input.
  // `what` names the socket in the error ("udp 10.0.0.1:9000").
  static Result<ReadinessFd> watch(int socket_fd, const std::string& what);

  ReadinessFd() = default;
  ReadinessFd(ReadinessFd&& other) noexcept;
  ReadinessFd& operator=(ReadinessFd&& other) noexcept;
  ReadinessFd(const ReadinessFd&) = delete;
  ReadinessFd& operator=(const ReadinessFd&) = delete;
  ~ReadinessFd();

  [[nodiscard]] int fd() const noexcept { return epoll_fd_; }

 private:
  explicit ReadinessFd(int epoll_fd) noexcept : epoll_fd_(epoll_fd) {}
  int epoll_fd_ = -1;
};

}  // namespace aether::net
