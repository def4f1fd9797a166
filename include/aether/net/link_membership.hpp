// LinkMembership: multicast and receive-mode control of one netdev, for the
// L2 kernel backends (afpacket, afxdp) of the port contract.
//
// An AF_PACKET socket that receives nothing (protocol 0) carries the
// memberships: PACKET_ADD_MEMBERSHIP with PACKET_MR_MULTICAST adds a group's
// MAC (01:00:5e + the group's low 23 bits, RFC 1112 section 6.4) to the
// netdev's filter, PACKET_MR_PROMISC raises its promiscuity count
// (packet(7)). The kernel drops them when the socket closes (af_packet.c,
// packet_flush_mclist), so a port that dies, however it dies, leaves the
// netdev as it found it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/port.hpp"

namespace aether::net {

// 01:00:5e:xx:xx:xx for an IPv4 group (network byte order).
[[nodiscard]] MacAddress multicast_mac(std::uint32_t group_be) noexcept;
// 224.0.0.0/4 (RFC 5771).
[[nodiscard]] bool is_ipv4_multicast(std::uint32_t group_be) noexcept;

class LinkMembership {
 public:
  // Opens the socket for `interface`, in the calling thread's network
  // namespace (the netdev's). Needs CAP_NET_RAW, as the backends do.
  // `owner` starts every error message ("port 'afpacket:eth0'").
  static Result<LinkMembership> open(const std::string& interface, const std::string& owner);

  LinkMembership() = default;
  LinkMembership(LinkMembership&& other) noexcept;
  LinkMembership& operator=(LinkMembership&& other) noexcept;
  LinkMembership(const LinkMembership&) = delete;
  LinkMembership& operator=(const LinkMembership&) = delete;
  ~LinkMembership();

  // Joining twice is not an error; leaving a group not joined is. Errors
  // name the group and the interface.
  [[nodiscard]] Result<void> join_multicast(std::uint32_t group_be);
  [[nodiscard]] Result<void> leave_multicast(std::uint32_t group_be);
  [[nodiscard]] Result<void> set_promiscuous(bool enabled);

  [[nodiscard]] std::size_t multicast_groups() const noexcept { return groups_be_.size(); }
  [[nodiscard]] bool promiscuous() const noexcept { return promiscuous_; }
  // The xstats multicast_groups and promiscuous.
  void append_xstats(std::vector<XStat>& out) const;

 private:
  [[nodiscard]] Result<void> change(int option, unsigned short type, const MacAddress* mac, const std::string& what);

  int fd_ = -1;
  int ifindex_ = 0;
  std::string interface_;
  std::string owner_;
  std::vector<std::uint32_t> groups_be_;
  bool promiscuous_ = false;
};

}  // namespace aether::net
