#include "aether/net/link_membership.hpp"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace aether::net {

MacAddress multicast_mac(std::uint32_t group_be) noexcept {
  const std::uint32_t group = ntohl(group_be);
  return MacAddress{0x01, 0x00, 0x5e, static_cast<std::uint8_t>((group >> 16) & 0x7f),
                    static_cast<std::uint8_t>((group >> 8) & 0xff), static_cast<std::uint8_t>(group & 0xff)};
}

bool is_ipv4_multicast(std::uint32_t group_be) noexcept { return (ntohl(group_be) >> 28) == 0xe; }

Result<LinkMembership> LinkMembership::open(const std::string& interface, const std::string& owner_name) {
  LinkMembership owner;
  owner.interface_ = interface;
  owner.owner_ = owner_name;
  owner.ifindex_ = static_cast<int>(if_nametoindex(interface.c_str()));
  if (owner.ifindex_ == 0) {
    return errno_error(fmt::format("{}: interface '{}' does not exist in this network namespace", owner_name, interface));
  }
  // Protocol 0: the socket receives no frames; it only holds memberships.
  owner.fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (owner.fd_ < 0) {
    return errno_error(fmt::format("{}: {}: AF_PACKET socket for multicast and promiscuous control (needs "
                                   "CAP_NET_RAW)",
                                   owner_name, interface));
  }
  return owner;
}

LinkMembership::LinkMembership(LinkMembership&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      ifindex_(other.ifindex_),
      interface_(std::move(other.interface_)),
      owner_(std::move(other.owner_)),
      groups_be_(std::move(other.groups_be_)),
      promiscuous_(other.promiscuous_) {}

LinkMembership& LinkMembership::operator=(LinkMembership&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    ifindex_ = other.ifindex_;
    interface_ = std::move(other.interface_);
    owner_ = std::move(other.owner_);
    groups_be_ = std::move(other.groups_be_);
    promiscuous_ = other.promiscuous_;
  }
  return *this;
}

LinkMembership::~LinkMembership() {
  if (fd_ >= 0) close(fd_);  // the kernel drops every membership with the socket
}

Result<void> LinkMembership::change(int option, unsigned short type, const MacAddress* mac, const std::string& what) {
  packet_mreq request{};
  request.mr_ifindex = ifindex_;
  request.mr_type = type;
  if (mac != nullptr) {
    request.mr_alen = static_cast<unsigned short>(mac->size());
    std::memcpy(request.mr_address, mac->data(), mac->size());
  }
  if (setsockopt(fd_, SOL_PACKET, option, &request, sizeof request) == 0) return {};
  const int error = errno;
  return errno_error(fmt::format("{}: {}: {} {}", owner_, interface_,
                                 option == PACKET_ADD_MEMBERSHIP ? "PACKET_ADD_MEMBERSHIP" : "PACKET_DROP_MEMBERSHIP",
                                 what),
                     error);
}

Result<void> LinkMembership::join_multicast(std::uint32_t group_be) {
  if (!is_ipv4_multicast(group_be)) {
    return invalid_argument(
        fmt::format("{}: {} is not an IPv4 multicast group (224.0.0.0/4)", owner_, format_ipv4_be(group_be)));
  }
  if (std::find(groups_be_.begin(), groups_be_.end(), group_be) != groups_be_.end()) return {};
  const MacAddress mac = multicast_mac(group_be);
  if (auto done = change(PACKET_ADD_MEMBERSHIP, PACKET_MR_MULTICAST, &mac,
                         fmt::format("of {} ({})", format_ipv4_be(group_be), format_mac(mac)));
      !done) {
    return done;
  }
  groups_be_.push_back(group_be);
  return {};
}

Result<void> LinkMembership::leave_multicast(std::uint32_t group_be) {
  const auto joined = std::find(groups_be_.begin(), groups_be_.end(), group_be);
  if (joined == groups_be_.end()) {
    return invalid_argument(
        fmt::format("{}: cannot leave {}: this port has not joined it", owner_, format_ipv4_be(group_be)));
  }
  const MacAddress mac = multicast_mac(group_be);
  if (auto done = change(PACKET_DROP_MEMBERSHIP, PACKET_MR_MULTICAST, &mac,
                         fmt::format("of {} ({})", format_ipv4_be(group_be), format_mac(mac)));
      !done) {
    return done;
  }
  groups_be_.erase(joined);
  return {};
}

void LinkMembership::append_xstats(std::vector<XStat>& out) const {
  out.push_back({"multicast_groups", groups_be_.size()});
  out.push_back({"promiscuous", promiscuous_ ? 1u : 0u});
}

Result<void> LinkMembership::set_promiscuous(bool enabled) {
  if (enabled == promiscuous_) return {};
  if (auto done = change(enabled ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, PACKET_MR_PROMISC, nullptr,
                         "PACKET_MR_PROMISC");
      !done) {
    return done;
  }
  promiscuous_ = enabled;
  return {};
}

}  // namespace aether::net
