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

TEST(VirtioFeatures, ControlQueueOnlyWhenAskedAndCtrlRxOnlyWithIt) {
  const std::uint64_t offered = qemu_features | bit(feature::net_ctrl_rx);
  auto with_control = choose_features(offered, true, "dev", /*control_queue=*/true);
  ASSERT_TRUE(with_control.ok()) << with_control.error().describe();
  EXPECT_EQ(with_control->accepted & (bit(feature::net_ctrl_vq) | bit(feature::net_ctrl_rx)),
            bit(feature::net_ctrl_vq) | bit(feature::net_ctrl_rx));
  EXPECT_EQ(with_control->description, "VERSION_1 ACCESS_PLATFORM MAC STATUS CTRL_VQ CTRL_RX");
  auto without = choose_features(offered, true, "dev");
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(without->accepted & (bit(feature::net_ctrl_vq) | bit(feature::net_ctrl_rx)), 0U);
  // CTRL_RX offered without CTRL_VQ (a device bug): not accepted.
  auto orphan = choose_features(offered & ~bit(feature::net_ctrl_vq), true, "dev", true);
  ASSERT_TRUE(orphan.ok());
  EXPECT_EQ(orphan->accepted & bit(feature::net_ctrl_rx), 0U);
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
