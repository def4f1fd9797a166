// The 82574's multicast table and promiscuous mode (receive_filter.hpp).
#include "aether/drivers/e1000e/receive_filter.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "aether/drivers/e1000e/registers.hpp"
#include "aether/drivers/multicast.hpp"
#include "aether/drivers/mmio.hpp"

namespace aether::drivers::e1000e {
namespace {

// RCTL.UPE (unicast promiscuous) and RCTL.MPE (multicast promiscuous).
constexpr std::uint32_t rctl_promiscuous = 0x8 | 0x10;

}  // namespace

void ReceiveFilter::clear() noexcept {
  const std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < table_registers; ++i) mmio::write32(bar0_, reg::multicast_table + 4 * i, 0);
  groups_.clear();
  users_.fill(0);
}

std::uint16_t ReceiveFilter::table_index(const net::MacAddress& mac) noexcept {
  // MO = 00: destination bits 47:36, i.e. the high nibble of byte 4 and all
  // of byte 5 (bytes in wire order).
  return static_cast<std::uint16_t>(((mac[4] >> 4) | (mac[5] << 4)) & (table_bits - 1));
}

Result<void> ReceiveFilter::join(std::uint32_t group_be) {
  if (!is_ipv4_multicast(group_be)) {
    return invalid_argument(
        fmt::format("{}: {} is not an IPv4 multicast group (224.0.0.0/4)", device_name_, format_ipv4(group_be)));
  }
  const std::lock_guard lock(mutex_);
  if (std::find(groups_.begin(), groups_.end(), group_be) != groups_.end()) return {};  // joined already
  const std::uint16_t index = table_index(ipv4_multicast_mac(group_be));
  groups_.push_back(group_be);
  if (users_[index]++ == 0) {
    const std::size_t offset = reg::multicast_table + 4 * (index >> 5);
    mmio::write32(bar0_, offset, mmio::read32(bar0_, offset) | (1U << (index & 31)));
  }
  return {};
}

Result<void> ReceiveFilter::leave(std::uint32_t group_be) {
  const std::lock_guard lock(mutex_);
  const auto joined = std::find(groups_.begin(), groups_.end(), group_be);
  if (joined == groups_.end()) {
    return invalid_argument(fmt::format("{}: group {} was not joined", device_name_, format_ipv4(group_be)));
  }
  groups_.erase(joined);
  const std::uint16_t index = table_index(ipv4_multicast_mac(group_be));
  if (--users_[index] == 0) {
    const std::size_t offset = reg::multicast_table + 4 * (index >> 5);
    mmio::write32(bar0_, offset, mmio::read32(bar0_, offset) & ~(1U << (index & 31)));
  }
  return {};
}

void ReceiveFilter::set_promiscuous(bool enabled) noexcept {
  const std::lock_guard lock(mutex_);
  const std::uint32_t rctl = mmio::read32(bar0_, reg::rctl);
  mmio::write32(bar0_, reg::rctl, enabled ? (rctl | rctl_promiscuous) : (rctl & ~rctl_promiscuous));
}

}  // namespace aether::drivers::e1000e
