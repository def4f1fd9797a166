// UdpSocket: the move-only owner of the udp port's kernel socket, and the
// control-path setup that makes it (options, bind, interface lookup).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aether/backends/udp_port.hpp"
#include "aether/net/port.hpp"

namespace aether::backends::udp {

class UdpSocket {
 public:
  // Creates a non-blocking UDP socket with SO_RXQ_OVFL on, SO_BUSY_POLL as
  // configured, bound to config.ip_be:config.port. A refused SO_BUSY_POLL is
  // not an error: it is appended to `notes`, and busy_poll_active() says so.
  static Result<UdpSocket> open(const UdpPortConfig& config, std::vector<std::string>& notes);

  UdpSocket(UdpSocket&& other) noexcept;
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket();

  [[nodiscard]] int fd() const noexcept { return fd_; }
  // The bound address, after the kernel chose a port if asked to.
  [[nodiscard]] std::uint32_t ip_be() const noexcept { return ip_be_; }
  [[nodiscard]] std::uint16_t port_be() const noexcept { return port_be_; }
  [[nodiscard]] bool busy_poll_active() const noexcept { return busy_poll_active_; }
  // The interface that owns the bound address ("" for 0.0.0.0 or when none
  // does, e.g. a route-only address), and its MTU (1500 if unknown).
  [[nodiscard]] const std::string& interface_name() const noexcept { return interface_name_; }
  [[nodiscard]] unsigned mtu() const noexcept { return mtu_; }

  // The link state of interface_name(), asked in the socket's own network
  // namespace (so it is right whichever namespace the caller is in now).
  // A socket on 0.0.0.0 has no one interface: up while it is open.
  [[nodiscard]] net::LinkState link_state() const;

 private:
  explicit UdpSocket(int fd) noexcept : fd_(fd) {}

  int fd_ = -1;
  std::uint32_t ip_be_ = 0;
  std::uint16_t port_be_ = 0;
  bool busy_poll_active_ = false;
  std::string interface_name_;
  unsigned mtu_ = 1500;
};

}  // namespace aether::backends::udp
