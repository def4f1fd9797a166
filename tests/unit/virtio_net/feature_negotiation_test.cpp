#include "aether/drivers/virtio_net/feature_negotiation.hpp"

#include <gtest/gtest.h>

#include "aether/drivers/virtio_net/registers.hpp"

namespace aether::drivers::virtio_net {
namespace {

using feature::bit;

// What QEMU 7.2's virtio-net-pci with iommu_platform=on offers (checksum,
// GSO, mergeable buffers, control queue, event index... plus the ones we take).
constexpr std::uint64_t qemu_features = bit(feature::net_csum) | bit(feature::net_guest_csum) | bit(feature::net_mac) |
                                        bit(feature::net_mrg_rxbuf) | bit(feature::net_status) |
                                        bit(feature::net_ctrl_vq) | bit(feature::indirect_desc) |
                                        bit(feature::event_idx) | bit(feature::version_1) |
                                        bit(feature::access_platform);

TEST(VirtioFeatures, AcceptsOnlyWhatTheDriverImplements) {
  auto choice = choose_features(qemu_features, true, "0000:00:03.0");
  ASSERT_TRUE(choice.ok()) << choice.error().describe();
  EXPECT_EQ(choice->accepted,
            bit(feature::version_1) | bit(feature::access_platform) | bit(feature::net_mac) | bit(feature::net_status));
  EXPECT_EQ(choice->description, "VERSION_1 ACCESS_PLATFORM MAC STATUS");
}

TEST(VirtioFeatures, RefusesLegacyDevicesAndIommuBypass) {
  auto legacy = choose_features(bit(feature::net_mac), false, "0000:00:03.0");
  ASSERT_FALSE(legacy.ok());
  EXPECT_NE(legacy.error().message.find("VERSION_1"), std::string::npos);
  EXPECT_NE(legacy.error().message.find("0000:00:03.0"), std::string::npos);
  const std::uint64_t no_platform = qemu_features & ~bit(feature::access_platform);
  auto bypass = choose_features(no_platform, true, "dev");
  ASSERT_FALSE(bypass.ok());
  EXPECT_NE(bypass.error().message.find("iommu_platform=on"), std::string::npos);
  auto without_iommu = choose_features(no_platform, false, "dev");
  ASSERT_TRUE(without_iommu.ok());
  EXPECT_EQ(without_iommu->accepted & bit(feature::access_platform), 0U);
}

}  // namespace
}  // namespace aether::drivers::virtio_net
