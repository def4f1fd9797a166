// The virtio-net device-specific configuration (virtio 1.2, 5.1.4): MAC,
// link status, MTU, read consistently with the config_generation protocol
// (2.5.1 / 4.1.4.3: read the generation before and after, retry if it
// changed in between).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "aether/drivers/virtio_net/common_config.hpp"

namespace aether::drivers::virtio_net {

struct NetDeviceConfig {
  std::array<std::uint8_t, 6> mac{};
  bool has_mac = false;     // NET_F_MAC negotiated; otherwise the driver picks one
  bool has_status = false;  // NET_F_STATUS negotiated; otherwise link is assumed up
  bool link_up = true;
  std::uint16_t mtu = 0;    // 0 unless NET_F_MTU negotiated

  [[nodiscard]] std::string mac_text() const;  // "52:54:00:12:34:56"
};

// `device_config` points at the device-specific structure (BAR mapping +
// capability offset); `features` are the negotiated ones.
[[nodiscard]] NetDeviceConfig read_net_config(const CommonConfig& common, volatile std::byte* device_config,
                                              std::uint64_t features) noexcept;

}  // namespace aether::drivers::virtio_net
