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

  // IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP of `group_be` on
  // multicast_interface() (ip(7)). Joining a group twice is not an error;
  // leaving one not joined is. Errors name the group and the interface.
  [[nodiscard]] Result<void> join_multicast(std::uint32_t group_be);
  [[nodiscard]] Result<void> leave_multicast(std::uint32_t group_be);
  [[nodiscard]] std::size_t multicast_groups() const noexcept { return groups_be_.size(); }
  // The netdev groups are joined on: `interface=` of the spec, else
  // interface_name() ("" for 0.0.0.0: the kernel picks by route).
  [[nodiscard]] const std::string& multicast_interface() const noexcept { return multicast_interface_; }

 private:
  explicit UdpSocket(int fd) noexcept : fd_(fd) {}

  int fd_ = -1;
  std::uint32_t ip_be_ = 0;
  std::uint16_t port_be_ = 0;
  bool busy_poll_active_ = false;
  std::string interface_name_;
  unsigned mtu_ = 1500;
  std::string multicast_interface_;
  unsigned multicast_ifindex_ = 0;  // resolved at open, in the socket's namespace; 0 = by route
  std::vector<std::uint32_t> groups_be_;
};

}  // namespace aether::backends::udp
