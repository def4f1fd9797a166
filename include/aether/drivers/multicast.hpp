// IPv4 multicast groups as the drivers' receive filters see them: which
// addresses are groups, and the Ethernet MAC a group's frames carry.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "aether/net/frame.hpp"

namespace aether::drivers {

// `group_be` in network byte order, as in_addr::s_addr.
[[nodiscard]] inline bool is_ipv4_multicast(std::uint32_t group_be) noexcept {
  std::uint8_t first = 0;
  std::memcpy(&first, &group_be, 1);
  return (first & 0xf0) == 0xe0;  // 224.0.0.0/4 (RFC 5771)
}

// 01:00:5e + the low 23 bits of the group (RFC 1112, 6.4).
[[nodiscard]] inline net::MacAddress ipv4_multicast_mac(std::uint32_t group_be) noexcept {
  std::uint8_t octets[4];
  std::memcpy(octets, &group_be, sizeof(octets));
  return {0x01, 0x00, 0x5e, static_cast<std::uint8_t>(octets[1] & 0x7f), octets[2], octets[3]};
}

[[nodiscard]] inline std::string format_ipv4(std::uint32_t address_be) {
  std::uint8_t octets[4];
  std::memcpy(octets, &address_be, sizeof(octets));
  return fmt::format("{}.{}.{}.{}", octets[0], octets[1], octets[2], octets[3]);
}

}  // namespace aether::drivers
