// Multicast table and promiscuous mode over the control virtqueue
// (receive_mode.hpp).
#include "aether/drivers/virtio_net/receive_mode.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "aether/drivers/multicast.hpp"

namespace aether::drivers::virtio_net {

Result<void> ReceiveMode::send_table(const std::vector<std::uint32_t>& groups) {
  std::vector<net::MacAddress> macs;
  for (const std::uint32_t group : groups) {
    const net::MacAddress mac = ipv4_multicast_mac(group);
    // Groups differing only in the 24th bit share a MAC: one entry.
    if (std::find(macs.begin(), macs.end(), mac) == macs.end()) macs.push_back(mac);
  }
  const std::vector<std::byte> payload = mac_table_payload(macs);
  return control_.send(control::class_mac, control::mac_table_set, payload);
}

Result<void> ReceiveMode::join(std::uint32_t group_be, const std::string& device_name) {
  if (!is_ipv4_multicast(group_be)) {
    return invalid_argument(
        fmt::format("{}: {} is not an IPv4 multicast group (224.0.0.0/4)", device_name, format_ipv4(group_be)));
  }
  const std::lock_guard lock(mutex_);
  if (std::find(groups_.begin(), groups_.end(), group_be) != groups_.end()) return {};  // joined already
  std::vector<std::uint32_t> wanted = groups_;
  wanted.push_back(group_be);
  if (auto sent = send_table(wanted); !sent) return sent;
  groups_ = std::move(wanted);
  return {};
}

Result<void> ReceiveMode::leave(std::uint32_t group_be, const std::string& device_name) {
  const std::lock_guard lock(mutex_);
  std::vector<std::uint32_t> wanted = groups_;
  const auto joined = std::find(wanted.begin(), wanted.end(), group_be);
  if (joined == wanted.end()) {
    return invalid_argument(fmt::format("{}: group {} was not joined", device_name, format_ipv4(group_be)));
  }
  wanted.erase(joined);
  if (auto sent = send_table(wanted); !sent) return sent;
  groups_ = std::move(wanted);
  return {};
}

Result<void> ReceiveMode::set_promiscuous(bool enabled) {
  const std::lock_guard lock(mutex_);
  const std::byte on{static_cast<unsigned char>(enabled ? 1 : 0)};
  return control_.send(control::class_rx, control::rx_promisc, std::span<const std::byte>(&on, 1));
}

}  // namespace aether::drivers::virtio_net
