// The hostile memif peer the hostile-peer tests drive: a raw control socket
// (FakePeer) and a client-made region (FakeRegion) the test fills by hand.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "../../../src/backends/memif/messages.hpp"
#include "../../../src/backends/memif/ring.hpp"
#include "memif_test_support.hpp"

namespace aether::test {

using namespace backends::memif;

// A raw memif control socket, driven by the test.
class FakePeer {
 public:
  static FakePeer connect_to(const std::string& path) {
    FakePeer peer;
    peer.fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    EXPECT_EQ(::connect(peer.fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0) << path;
    return peer;
  }
  static FakePeer listen_on(const std::string& path) {
    FakePeer peer;
    peer.listener_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    EXPECT_EQ(::bind(peer.listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(peer.listener_, 4), 0);
    return peer;
  }
  FakePeer() = default;
  FakePeer(FakePeer&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), listener_(std::exchange(other.listener_, -1)) {}
  FakePeer& operator=(FakePeer&& other) noexcept {
    std::swap(fd_, other.fd_);
    std::swap(listener_, other.listener_);
    return *this;
  }
  ~FakePeer() {
    if (fd_ >= 0) ::close(fd_);
    if (listener_ >= 0) ::close(listener_);
  }

  // Server side: waits (up to 5 s) for the Aether client.
  bool accept_one() {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return false;
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    return fd_ >= 0;
  }

  void send_raw(const void* bytes, std::size_t size, std::vector<int> fds = {}) {
    iovec io{const_cast<void*>(bytes), size};
    msghdr header{};
    header.msg_iov = &io;
    header.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
    if (!fds.empty()) {
      header.msg_control = control;
      header.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
      cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
      std::memcpy(CMSG_DATA(cmsg), fds.data(), fds.size() * sizeof(int));
    }
    ASSERT_EQ(::sendmsg(fd_, &header, MSG_NOSIGNAL), static_cast<ssize_t>(size));
  }
  void send(const Message& message, int fd = -1) {
    const WireMessage bytes = encode_message(message);
    send_raw(bytes.data(), bytes.size(), fd >= 0 ? std::vector<int>{fd} : std::vector<int>{});
  }

  struct Received {
    bool closed = false;
    std::optional<Message> message;
    std::vector<int> fds;
  };
  // Waits up to 5 s for one datagram.
  Received receive() {
    Received out;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return out;
    WireMessage bytes{};
    iovec io{bytes.data(), bytes.size()};
    msghdr header{};
    header.msg_iov = &io;
    header.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
    header.msg_control = control;
    header.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(fd_, &header, MSG_CMSG_CLOEXEC);
    if (n <= 0) {
      out.closed = true;
      return out;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
      if (c->cmsg_type != SCM_RIGHTS) continue;
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
      out.fds.push_back(fd);
    }
    auto decoded = decode_message(std::span<const std::byte>(bytes.data(), static_cast<std::size_t>(n)));
    if (decoded) out.message = std::move(*decoded);
    return out;
  }
  template <class T>
  T expect() {
    Received r = receive();
    for (int fd : r.fds) received_fds_.push_back(fd);
    EXPECT_TRUE(r.message.has_value()) << (r.closed ? "socket closed" : "no message");
    if (!r.message || !std::holds_alternative<T>(*r.message)) {
      ADD_FAILURE() << "got message type " << (r.message ? message_name(type_of(*r.message)) : "none");
      return T{};
    }
    return std::get<T>(*r.message);
  }
  // The DISCONNECT reason Aether sent, then the socket must close.
  std::string disconnect_reason() {
    const auto disconnect = expect<DisconnectMessage>();
    EXPECT_TRUE(receive().closed) << "the socket closes after DISCONNECT";
    return disconnect.reason;
  }
  std::vector<int>& received_fds() { return received_fds_; }
  void hang_up() {
    ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int listener_ = -1;
  std::vector<int> received_fds_;
};

// A region as a client makes it: one C2S and one S2C ring of 2^4, then
// 2 x 16 buffers of 256 bytes. Optionally sealed against shrinking.
struct FakeRegion {
  static constexpr unsigned kLog2 = 4;
  explicit FakeRegion(bool sealed = true, std::uint32_t cookie = kRingCookie) {
    fd = ::memfd_create("fake-memif", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
    if (sealed) {
      EXPECT_EQ(::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    }
    base = static_cast<std::byte*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    c2s = RingView(base, kLog2);
    s2c = RingView(base + ring_bytes(kLog2), kLog2);
    c2s.store_cookie(cookie);
    s2c.store_cookie(cookie);
  }
  ~FakeRegion() {
    ::munmap(base, size);
    ::close(fd);
  }
  FakeRegion(const FakeRegion&) = delete;
  FakeRegion& operator=(const FakeRegion&) = delete;
  [[nodiscard]] std::uint32_t buffer(unsigned index) const {
    return static_cast<std::uint32_t>(2 * ring_bytes(kLog2) + index * 256);
  }
  const std::size_t size = 2 * ring_bytes(kLog2) + 32 * 256;
  int fd = -1;
  std::byte* base = nullptr;
  RingView c2s;
  RingView s2c;
};

inline int new_eventfd() { return ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

inline InitMessage init_for(std::uint32_t id) {
  InitMessage init;
  init.id = id;
  init.name = "fake-client";
  return init;
}

}  // namespace aether::test
