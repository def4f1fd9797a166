// read_net_config against a device configuration played in memory: an
// exact-size heap block (ASan sees a read past the structure's length) and
// a common configuration whose config_generation the test sets.
#include "aether/drivers/virtio_net/device_config.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>

#include "aether/drivers/virtio_net/registers.hpp"

namespace aether::drivers::virtio_net {
namespace {

using feature::bit;
constexpr std::uint64_t mac_status_mtu = bit(feature::net_mac) | bit(feature::net_status) | bit(feature::net_mtu);

// A device configuration of exactly `length` bytes: mac 52:54:00:12:34:56,
// link up, MTU 9000, truncated to `length`.
std::unique_ptr<std::byte[]> device_config_of(std::size_t length) {
  VirtioNetConfig config{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, net_status_link_up, 1, 9000};
  auto bytes = std::make_unique<std::byte[]>(length);
  std::memcpy(bytes.get(), &config, std::min(length, sizeof(config)));
  return bytes;
}

TEST(DeviceConfig, BytesNeededFollowTheFurthestNegotiatedField) {
  EXPECT_EQ(net_config_bytes_needed(0), 0U);
  EXPECT_EQ(net_config_bytes_needed(bit(feature::net_mac)), 6U);
  EXPECT_EQ(net_config_bytes_needed(bit(feature::net_mac) | bit(feature::net_status)), 8U);
  EXPECT_EQ(net_config_bytes_needed(bit(feature::net_mtu)), 12U);
}

TEST(DeviceConfig, ReadsEveryNegotiatedFieldOfALongEnoughStructure) {
  std::array<std::byte, 64> common{};
  const CommonConfig common_config(common.data(), "0000:00:03.0");
  auto device = device_config_of(sizeof(VirtioNetConfig));
  auto config = read_net_config(common_config, {device.get(), sizeof(VirtioNetConfig)}, mac_status_mtu);
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->mac_text(), "52:54:00:12:34:56");
  EXPECT_TRUE(config->link_up);
  EXPECT_EQ(config->mtu, 9000);
}

TEST(DeviceConfig, AStructureShorterThanTheNegotiatedFieldsIsRefusedUnread) {
  std::array<std::byte, 64> common{};
  const CommonConfig common_config(common.data(), "0000:00:03.0");
  // 6 bytes: enough for the MAC only. Reading status or MTU would be a heap
  // overflow here (ASan) and, on a device, a read past its BAR.
  auto device = device_config_of(6);
  auto config = read_net_config(common_config, {device.get(), 6}, mac_status_mtu);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("0000:00:03.0"), std::string::npos) << config.error().message;
  EXPECT_NE(config.error().message.find("has 6 bytes"), std::string::npos) << config.error().message;
  EXPECT_NE(config.error().message.find("need 12"), std::string::npos) << config.error().message;
  // Only the MAC negotiated: 6 bytes are enough.
  auto mac_only = read_net_config(common_config, {device.get(), 6}, bit(feature::net_mac));
  ASSERT_TRUE(mac_only) << mac_only.error().describe();
  EXPECT_EQ(mac_only->mac_text(), "52:54:00:12:34:56");
  // No structure at all while MAC is negotiated.
  EXPECT_FALSE(read_net_config(common_config, {nullptr, 0}, bit(feature::net_mac)));
  EXPECT_TRUE(read_net_config(common_config, {nullptr, 0}, 0));
}

TEST(DeviceConfig, AGenerationThatNeverSettlesEndsTheRetriesWithAnError) {
  auto device = device_config_of(sizeof(VirtioNetConfig));
  unsigned reads = 0;
  // Every read of config_generation shows a new value, as a broken device's would.
  auto config = read_net_config_with([&reads] { return static_cast<std::uint8_t>(reads++); },
                                     {device.get(), sizeof(VirtioNetConfig)}, mac_status_mtu, "0000:00:03.0");
  ASSERT_FALSE(config);
  EXPECT_EQ(reads, 2 * max_config_generation_attempts);
  EXPECT_NE(config.error().message.find("config_generation"), std::string::npos) << config.error().message;
}

TEST(DeviceConfig, AGenerationThatChangesOnceIsRetried) {
  auto device = device_config_of(sizeof(VirtioNetConfig));
  unsigned reads = 0;
  // before 0, after 1 (changed: retry), then 1, 1.
  auto config = read_net_config_with([&reads] { return static_cast<std::uint8_t>(reads++ == 0 ? 0 : 1); },
                                     {device.get(), sizeof(VirtioNetConfig)}, mac_status_mtu, "0000:00:03.0");
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(reads, 4U);
  EXPECT_EQ(config->mtu, 9000);
}

}  // namespace
}  // namespace aether::drivers::virtio_net
