#include "aether/net/readiness_fd.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace aether::net {

Result<ReadinessFd> ReadinessFd::watch(int socket_fd, const std::string& what) {
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return errno_error(what + ": epoll_create1 for the receive interrupt fd");
  ReadinessFd owner(epoll_fd);
  epoll_event event{};
  event.events = EPOLLIN;  // level-triggered: readable while input waits
  event.data.fd = socket_fd;
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, socket_fd, &event) != 0) {
    return errno_error(what + ": epoll_ctl(EPOLL_CTL_ADD) of the socket for the receive interrupt fd");
  }
  return owner;
}

ReadinessFd::ReadinessFd(ReadinessFd&& other) noexcept : epoll_fd_(std::exchange(other.epoll_fd_, -1)) {}

ReadinessFd& ReadinessFd::operator=(ReadinessFd&& other) noexcept {
  if (this != &other) {
    if (epoll_fd_ >= 0) close(epoll_fd_);
    epoll_fd_ = std::exchange(other.epoll_fd_, -1);
  }
  return *this;
}

ReadinessFd::~ReadinessFd() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

}  // namespace aether::net
