// The virtio-net device-specific configuration (virtio 1.2, 5.1.4): MAC,
// link status, MTU, read consistently with the config_generation protocol
// (2.5.1 / 4.1.4.3: read the generation before and after, retry if it
// changed in between).
//
// A device is untrusted: only bytes inside the structure's length (as its
// capability gave it, checked against the BAR at open) are read, and the
// retry loop ends after max_config_generation_attempts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aether/core/result.hpp"
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

// The device-specific structure as mapped: BAR mapping + capability
// offset, and the capability's length (4.1.4.6).
struct DeviceConfigWindow {
  volatile std::byte* base = nullptr;
  std::size_t length = 0;
};

// How many bytes of struct virtio_net_config (5.1.4) the negotiated
// features need read: mac 6, status 8, mtu 12 (0 when none is negotiated).
[[nodiscard]] std::size_t net_config_bytes_needed(std::uint64_t features) noexcept;

// A device whose generation changes across this many consecutive reads is
// broken or hostile; a real one changes it only when its config changes.
inline constexpr unsigned max_config_generation_attempts = 64;

// `features` are the negotiated ones. Errors (naming `device_name`): the
// structure is shorter than those features need, or the generation changed
// during every one of max_config_generation_attempts reads.
[[nodiscard]] Result<NetDeviceConfig> read_net_config(const CommonConfig& common, DeviceConfigWindow device_config,
                                                      std::uint64_t features);

// The same with the generation read by `read_generation()` (returns
// std::uint8_t): what read_net_config uses with common_cfg's
// config_generation; tests pass a device whose generation never settles.
template <typename ReadGeneration>
[[nodiscard]] Result<NetDeviceConfig> read_net_config_with(ReadGeneration&& read_generation,
                                                           DeviceConfigWindow device_config, std::uint64_t features,
                                                           std::string_view device_name);

// One read of the fields `features` select, without the generation check;
// the caller checked device_config.length >= net_config_bytes_needed.
[[nodiscard]] NetDeviceConfig read_net_fields(DeviceConfigWindow device_config, std::uint64_t features) noexcept;
[[nodiscard]] Error net_config_too_short(DeviceConfigWindow device_config, std::uint64_t features,
                                         std::string_view device_name);
[[nodiscard]] Error net_config_never_settled(std::string_view device_name);

template <typename ReadGeneration>
Result<NetDeviceConfig> read_net_config_with(ReadGeneration&& read_generation, DeviceConfigWindow device_config,
                                             std::uint64_t features, std::string_view device_name) {
  if (device_config.length < net_config_bytes_needed(features) ||
      (device_config.base == nullptr && net_config_bytes_needed(features) != 0)) {
    return net_config_too_short(device_config, features, device_name);
  }
  for (unsigned attempt = 0; attempt < max_config_generation_attempts; ++attempt) {
    const std::uint8_t before = read_generation();
    NetDeviceConfig config = read_net_fields(device_config, features);
    if (read_generation() == before) return config;
  }
  return net_config_never_settled(device_name);
}

}  // namespace aether::drivers::virtio_net
