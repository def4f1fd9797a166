#include "aether/drivers/virtio_net/device_config.hpp"

#include <fmt/format.h>

#include "aether/drivers/mmio.hpp"
#include "aether/drivers/virtio_net/registers.hpp"

namespace aether::drivers::virtio_net {

std::string NetDeviceConfig::mac_text() const {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

std::size_t net_config_bytes_needed(std::uint64_t features) noexcept {
  using feature::bit;
  // Each field's end (5.1.4); the furthest negotiated one counts.
  if ((features & bit(feature::net_mtu)) != 0) return offsetof(VirtioNetConfig, mtu) + sizeof(std::uint16_t);
  if ((features & bit(feature::net_status)) != 0) return offsetof(VirtioNetConfig, status) + sizeof(std::uint16_t);
  if ((features & bit(feature::net_mac)) != 0) return offsetof(VirtioNetConfig, mac) + 6;
  return 0;
}

NetDeviceConfig read_net_fields(DeviceConfigWindow device_config, std::uint64_t features) noexcept {
  using feature::bit;
  NetDeviceConfig config;
  config.has_mac = (features & bit(feature::net_mac)) != 0;
  config.has_status = (features & bit(feature::net_status)) != 0;
  // Byte-wise: the driver must not assume wider accesses are atomic for
  // fields wider than 32 bits, and the MAC is 6 bytes (4.1.3.1).
  if (config.has_mac) {
    for (std::size_t i = 0; i < config.mac.size(); ++i) {
      config.mac[i] = mmio::read8(device_config.base, offsetof(VirtioNetConfig, mac) + i);
    }
  }
  if (config.has_status) {
    config.link_up =
        (mmio::read16(device_config.base, offsetof(VirtioNetConfig, status)) & net_status_link_up) != 0;
  }
  if ((features & bit(feature::net_mtu)) != 0) config.mtu = mmio::read16(device_config.base, offsetof(VirtioNetConfig, mtu));
  return config;
}

Error net_config_too_short(DeviceConfigWindow device_config, std::uint64_t features, std::string_view device_name) {
  return invalid_argument(fmt::format("{}: the virtio device configuration structure has {} bytes; the negotiated "
                                      "features (MAC, STATUS, MTU: {:#x}) need {} (virtio 1.2, 5.1.4): not read",
                                      device_name, device_config.base == nullptr ? 0 : device_config.length, features,
                                      net_config_bytes_needed(features)));
}

Error net_config_never_settled(std::string_view device_name) {
  return invalid_argument(fmt::format("{}: config_generation changed during each of {} reads of the device "
                                      "configuration (virtio 1.2, 2.5.1): the device is broken or its configuration "
                                      "keeps changing",
                                      device_name, max_config_generation_attempts));
}

Result<NetDeviceConfig> read_net_config(const CommonConfig& common, DeviceConfigWindow device_config,
                                        std::uint64_t features) {
  return read_net_config_with([&common] { return common.config_generation(); }, device_config, features,
                              common.device_name());
}

}  // namespace aether::drivers::virtio_net
