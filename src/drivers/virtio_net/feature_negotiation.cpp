#include "aether/drivers/virtio_net/feature_negotiation.hpp"

#include <array>
#include <utility>

#include "aether/drivers/virtio_net/registers.hpp"

namespace aether::drivers::virtio_net {

Result<FeatureChoice> choose_features(std::uint64_t device_features, bool behind_iommu,
                                      const std::string& device_name, bool control_queue) {
  using feature::bit;
  if ((device_features & bit(feature::version_1)) == 0) {
    return invalid_argument(fmt::format("{} does not offer VIRTIO_F_VERSION_1 (features {:#018x}): Aether drives "
                                        "virtio 1.x devices only (QEMU: disable-legacy=on or a modern machine type)",
                                        device_name, device_features));
  }
  const bool offers_platform = (device_features & bit(feature::access_platform)) != 0;
  if (behind_iommu && !offers_platform) {
    return invalid_argument(fmt::format("{} does not offer VIRTIO_F_ACCESS_PLATFORM: it would bypass the IOMMU and "
                                        "take IO virtual addresses for physical ones (QEMU: iommu_platform=on)",
                                        device_name));
  }
  static constexpr std::array<std::pair<unsigned, const char*>, 7> wanted{{
      {feature::version_1, "VERSION_1"},
      {feature::access_platform, "ACCESS_PLATFORM"},
      {feature::net_mac, "MAC"},
      {feature::net_status, "STATUS"},
      {feature::net_mtu, "MTU"},
      {feature::net_ctrl_vq, "CTRL_VQ"},
      {feature::net_ctrl_rx, "CTRL_RX"},
  }};
  const bool has_control_queue = (device_features & bit(feature::net_ctrl_vq)) != 0;
  FeatureChoice choice;
  for (const auto& [number, name] : wanted) {
    if ((device_features & bit(number)) == 0) continue;
    if ((number == feature::net_ctrl_vq || number == feature::net_ctrl_rx) && !control_queue) continue;
    if (number == feature::net_ctrl_rx && !has_control_queue) continue;  // depends on CTRL_VQ (5.1.3.1)
    choice.accepted |= bit(number);
    if (!choice.description.empty()) choice.description += ' ';
    choice.description += name;
  }
  return choice;
}

}  // namespace aether::drivers::virtio_net
