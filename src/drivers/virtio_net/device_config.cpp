#include "aether/drivers/virtio_net/device_config.hpp"

#include <fmt/format.h>

#include "aether/drivers/mmio.hpp"
#include "aether/drivers/virtio_net/registers.hpp"

namespace aether::drivers::virtio_net {

std::string NetDeviceConfig::mac_text() const {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

NetDeviceConfig read_net_config(const CommonConfig& common, volatile std::byte* device_config,
                                std::uint64_t features) noexcept {
  using feature::bit;
  NetDeviceConfig config;
  config.has_mac = (features & bit(feature::net_mac)) != 0;
  config.has_status = (features & bit(feature::net_status)) != 0;
  const bool has_mtu = (features & bit(feature::net_mtu)) != 0;
  std::uint8_t before = 0;
  do {
    before = common.config_generation();
    // Byte-wise: the driver must not assume wider accesses are atomic for
    // fields wider than 32 bits, and the MAC is 6 bytes (4.1.3.1).
    if (config.has_mac) {
      for (std::size_t i = 0; i < config.mac.size(); ++i) {
        config.mac[i] = mmio::read8(device_config, offsetof(VirtioNetConfig, mac) + i);
      }
    }
    if (config.has_status) {
      config.link_up = (mmio::read16(device_config, offsetof(VirtioNetConfig, status)) & net_status_link_up) != 0;
    }
    if (has_mtu) config.mtu = mmio::read16(device_config, offsetof(VirtioNetConfig, mtu));
  } while (common.config_generation() != before);
  return config;
}

}  // namespace aether::drivers::virtio_net
