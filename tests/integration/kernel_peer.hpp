// The host kernel's IP stack as the peer of an Aether port, driven from
// inside a test-made network namespace: a UDP echo server thread, an ICMP
// pinger (raw socket, as ping(8) without the binary), a UDP client that
// counts its echoes, and a child process started inside the namespace.
// Used by the integration tests (veth) and the guest tests (tap into QEMU).
// Needs root (raw sockets, setns).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "aether/core/result.hpp"
#include "aether/core/unique_fd.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/icmp.hpp"
#include "aether/net/network_namespace.hpp"

namespace aether::test::kernel_peer {

using Clock = std::chrono::steady_clock;

using Socket = UniqueFd;

// A socket made inside `ns` (it stays there; the thread returns).
inline Result<Socket> socket_in(const net::NetworkNamespace& ns, int type, int protocol) {
  auto entered = net::ScopedNamespace::enter(ns);
  if (!entered) return std::move(entered).error();
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) return errno_error("socket in the test's network namespace");
  return Socket(fd);
}

inline sockaddr_in address_of(const std::string& ip, std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = *net::parse_ipv4_be(ip);
  return address;
}

inline void set_receive_timeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// RFC 862 echo over UDP, by the kernel's sockets, on its own thread.
class UdpEchoServer {
 public:
  UdpEchoServer(const net::NetworkNamespace& ns, std::uint16_t port) {
    auto socket = socket_in(ns, SOCK_DGRAM, 0);
    if (!socket) {
      error_ = socket.error().describe();
      return;
    }
    socket_ = std::make_unique<Socket>(std::move(*socket));
    const sockaddr_in any = address_of("0.0.0.0", port);
    if (::bind(socket_->get(), reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0) {
      error_ = fmt::format("bind UDP port {}: {}", port, std::strerror(errno));
      return;
    }
    set_receive_timeout(socket_->get(), std::chrono::milliseconds(50));
    thread_ = std::thread([this] { serve(); });
  }
  ~UdpEchoServer() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::uint64_t echoed() const { return echoed_.load(); }

 private:
  void serve() {
    std::vector<char> buffer(65536);
    while (!stop_.load()) {
      sockaddr_in from{};
      socklen_t from_length = sizeof from;
      const ssize_t n = ::recvfrom(socket_->get(), buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from),
                                   &from_length);
      if (n < 0) continue;  // timeout: look at the stop flag
      if (::sendto(socket_->get(), buffer.data(), static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from),
                   from_length) == n) {
        echoed_.fetch_add(1);
      }
    }
  }

  std::unique_ptr<Socket> socket_;
  std::string error_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> echoed_{0};
  std::thread thread_;
};

struct Exchange {
  unsigned sent = 0;
  unsigned replies = 0;  // distinct sequence numbers answered
};

// Sends `count` ICMP echo requests to `destination` from inside `ns`, one
// every `interval`, and counts the distinct replies until all came or
// `patience` passed after the last request.
inline Result<Exchange> ping(const net::NetworkNamespace& ns, const std::string& destination, unsigned count,
                             std::chrono::milliseconds interval, std::chrono::milliseconds patience) {
  auto socket = socket_in(ns, SOCK_RAW, IPPROTO_ICMP);
  if (!socket) return std::move(socket).error();
  const sockaddr_in to = address_of(destination, 0);
  const std::uint16_t identifier = static_cast<std::uint16_t>(::getpid() ^ 0x5a5a);
  std::vector<bool> seen(count, false);
  Exchange exchange;
  const auto receive_until = [&](Clock::time_point until) {
    std::array<std::byte, 2048> reply{};
    while (Clock::now() < until && exchange.replies < count) {
      set_receive_timeout(socket->get(), std::chrono::milliseconds(10));
      const ssize_t n = ::recv(socket->get(), reply.data(), reply.size(), 0);
      if (n < static_cast<ssize_t>(sizeof(net::Ipv4Header) + sizeof(net::IcmpEchoHeader))) continue;
      const auto header_length = static_cast<std::size_t>(std::to_integer<unsigned>(reply[0]) & 0x0f) * 4;
      if (static_cast<std::size_t>(n) < header_length + sizeof(net::IcmpEchoHeader)) continue;
      net::IcmpEchoHeader icmp{};
      std::memcpy(&icmp, reply.data() + header_length, sizeof icmp);
      const std::span<const std::byte> message(reply.data() + header_length, static_cast<std::size_t>(n) - header_length);
      if (icmp.type != net::icmp_type_echo_reply || ntohs(icmp.identifier_be) != identifier ||
          net::internet_checksum_be(message) != 0) {
        continue;
      }
      const unsigned sequence = ntohs(icmp.sequence_be);
      if (sequence < count && !seen[sequence]) {
        seen[sequence] = true;
        ++exchange.replies;
      }
    }
  };
  for (unsigned sequence = 0; sequence < count; ++sequence) {
    std::array<std::byte, sizeof(net::IcmpEchoHeader) + 56> request{};
    net::IcmpEchoHeader icmp{net::icmp_type_echo_request, 0, 0, htons(identifier), htons(static_cast<std::uint16_t>(sequence))};
    std::memcpy(request.data(), &icmp, sizeof icmp);
    for (std::size_t i = sizeof icmp; i < request.size(); ++i) request[i] = std::byte(i);
    icmp.checksum_be = net::internet_checksum_be(request);
    std::memcpy(request.data(), &icmp, sizeof icmp);
    if (::sendto(socket->get(), request.data(), request.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) ==
        static_cast<ssize_t>(request.size())) {
      ++exchange.sent;
    }
    receive_until(Clock::now() + interval);
  }
  receive_until(Clock::now() + patience);
  return exchange;
}

// Sends `count` UDP datagrams (a 4-byte sequence number and `payload_size`
// bytes in all) to destination:port from inside `ns`, one every `interval`
// (zero: as fast as the socket takes them), and counts the distinct echoes
// until all came or `patience` passed after the last one.
inline Result<Exchange> udp_exchange(const net::NetworkNamespace& ns, const std::string& destination,
                                     std::uint16_t port, unsigned count, std::chrono::milliseconds interval,
                                     std::chrono::milliseconds patience, std::size_t payload_size = 64) {
  auto socket = socket_in(ns, SOCK_DGRAM, 0);
  if (!socket) return std::move(socket).error();
  // Room for a whole burst of echoes (SO_RCVBUFFORCE: root may exceed rmem_max).
  const int buffer_bytes = 8 << 20;
  ::setsockopt(socket->get(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer_bytes, sizeof buffer_bytes);
  const sockaddr_in to = address_of(destination, port);
  if (::connect(socket->get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    return errno_error(fmt::format("connect UDP to {}:{}", destination, port));
  }
  std::vector<bool> seen(count, false);
  Exchange exchange;
  const auto receive_until = [&](Clock::time_point until, bool block) {
    std::vector<std::byte> reply(2048);
    while (exchange.replies < count) {
      if (!block && Clock::now() >= until) break;
      set_receive_timeout(socket->get(), std::chrono::milliseconds(10));
      const ssize_t n = ::recv(socket->get(), reply.data(), reply.size(), block ? 0 : MSG_DONTWAIT);
      if (n < 0 && !block) break;
      if (n < 0) {
        if (Clock::now() >= until) break;
        continue;
      }
      std::uint32_t sequence = 0;
      if (n != static_cast<ssize_t>(payload_size)) continue;
      std::memcpy(&sequence, reply.data(), sizeof sequence);
      if (sequence < count && !seen[sequence]) {
        seen[sequence] = true;
        ++exchange.replies;
      }
    }
  };
  std::vector<std::byte> datagram(std::max<std::size_t>(payload_size, 4));
  for (std::uint32_t sequence = 0; sequence < count; ++sequence) {
    std::memcpy(datagram.data(), &sequence, sizeof sequence);
    if (::send(socket->get(), datagram.data(), datagram.size(), 0) == static_cast<ssize_t>(datagram.size())) {
      ++exchange.sent;
    }
    if (interval.count() > 0) {
      receive_until(Clock::now() + interval, true);
    } else {
      receive_until(Clock::now(), false);  // drain what is there, do not wait
    }
  }
  receive_until(Clock::now() + patience, true);
  return exchange;
}

// Waits until `destination` answers a ping from inside `ns` (the responder
// is up and resolvable), or `limit` passes.
inline bool wait_until_pingable(const net::NetworkNamespace& ns, const std::string& destination,
                                std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    auto probe = ping(ns, destination, 1, std::chrono::milliseconds(0), std::chrono::milliseconds(300));
    if (probe && probe->replies == 1) return true;
  }
  return false;
}

// A child process started inside `ns` (or, without one, in the test's own
// namespace), stdout and stderr to `log`. The destructor interrupts it
// (SIGINT, as Ctrl-C) if it still runs and reaps it.
class ChildInNamespace {
 public:
  ChildInNamespace(const net::NetworkNamespace& ns, const std::vector<std::string>& argv, const std::string& log)
      : ChildInNamespace(ns.fd(), argv, log) {}
  ChildInNamespace(const std::vector<std::string>& argv, const std::string& log) : ChildInNamespace(-1, argv, log) {}
  ChildInNamespace(int namespace_fd, const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> arguments;
    for (const auto& argument : argv) arguments.push_back(const_cast<char*>(argument.c_str()));
    arguments.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls from here to exec.
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0 || (namespace_fd >= 0 && ::setns(namespace_fd, CLONE_NEWNET) != 0)) ::_exit(126);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
      ::execv(arguments[0], arguments.data());
      ::_exit(127);
    }
  }
  ~ChildInNamespace() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGINT);
      (void)wait();
    }
  }
  ChildInNamespace(const ChildInNamespace&) = delete;
  ChildInNamespace& operator=(const ChildInNamespace&) = delete;

  [[nodiscard]] bool started() const { return pid_ > 0; }
  // SIGINT, then the exit status (as the shell reports it).
  int interrupt_and_wait() {
    if (pid_ > 0 && !exited_) ::kill(pid_, SIGINT);
    return wait();
  }
  int wait() {
    if (exited_) return status_;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exited_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status_;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
};

}  // namespace aether::test::kernel_peer
