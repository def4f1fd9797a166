#include "aether/drivers/virtio_net/pci_capabilities.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

namespace aether::drivers::virtio_net {
namespace {

// A config space image with a capability list, shaped like QEMU's modern
// virtio-net-pci: MSI-X at 0x98, then virtio capabilities in BAR 4.
class ConfigSpace {
 public:
  ConfigSpace() {
    put16(0x00, 0x1af4);
    put16(0x02, 0x1041);
    put16(0x06, 1U << 4);  // status: capability list
  }
  // Appends a capability at `at` and links it from the previous one.
  void add_raw(std::uint8_t at, std::uint8_t id, std::uint8_t length) {
    bytes_[at] = std::byte{id};
    bytes_[at + 1] = std::byte{0};
    bytes_[at + 2] = std::byte{length};
    bytes_[last_ == 0 ? 0x34 : last_ + 1] = std::byte{at};
    last_ = at;
  }
  void add_virtio(std::uint8_t at, CapabilityType type, std::uint8_t bar, std::uint32_t offset, std::uint32_t length,
                  std::optional<std::uint32_t> multiplier = std::nullopt) {
    add_raw(at, 0x09, multiplier ? 20 : 16);
    bytes_[at + 3] = std::byte{static_cast<std::uint8_t>(type)};
    bytes_[at + 4] = std::byte{bar};
    put32(at + 8, offset);
    put32(at + 12, length);
    if (multiplier) put32(at + 16, *multiplier);
  }
  void link(std::uint8_t from, std::uint8_t to) { bytes_[from + 1] = std::byte{to}; }
  void put16(std::size_t at, std::uint16_t value) { std::memcpy(&bytes_[at], &value, 2); }
  void put32(std::size_t at, std::uint32_t value) { std::memcpy(&bytes_[at], &value, 4); }
  [[nodiscard]] std::span<const std::byte> span() const { return bytes_; }

 private:
  std::array<std::byte, pci_config_space_size> bytes_{};
  std::uint8_t last_ = 0;
};

ConfigSpace qemu_like() {
  ConfigSpace config;
  config.add_raw(0x98, 0x11, 12);  // MSI-X
  config.add_virtio(0x84, CapabilityType::pci_config, 0, 0, 0);
  config.add_virtio(0x70, CapabilityType::notify, 4, 0x3000, 0x1000, 4);
  config.add_virtio(0x60, CapabilityType::device, 4, 0x2000, 0x1000);
  config.add_virtio(0x50, CapabilityType::isr, 4, 0x1000, 0x1000);
  config.add_virtio(0x40, CapabilityType::common, 4, 0x0, 0x1000);
  return config;
}

TEST(VirtioPciCapabilities, FindsEveryStructureInAQemuLikeDevice) {
  const ConfigSpace config = qemu_like();
  auto layout = parse_virtio_capabilities(config.span(), "0000:00:03.0");
  ASSERT_TRUE(layout.ok()) << layout.error().describe();
  EXPECT_EQ(layout->common.bar, 4);
  EXPECT_EQ(layout->common.offset, 0U);
  EXPECT_EQ(layout->common.length, 0x1000U);
  EXPECT_EQ(layout->notify.offset, 0x3000U);
  EXPECT_EQ(layout->notify_off_multiplier, 4U);
  ASSERT_TRUE(layout->isr.has_value());
  EXPECT_EQ(layout->isr->offset, 0x1000U);
  ASSERT_TRUE(layout->device.has_value());
  EXPECT_EQ(layout->device->offset, 0x2000U);
  EXPECT_EQ(layout->msix_capability_offset, 0x98);
  EXPECT_EQ(layout->describe(),
            "common bar4+0x0/0x1000, notify bar4+0x3000/0x1000 x4, isr bar4+0x1000/0x1000, device "
            "bar4+0x2000/0x1000, msi-x cap at 0x98");
}

TEST(VirtioPciCapabilities, FirstInstanceWinsAndReservedBarsAreIgnored) {
  ConfigSpace config;
  config.add_virtio(0x40, CapabilityType::common, 7, 0x100, 0x100);  // reserved BAR: ignored
  config.add_virtio(0x50, CapabilityType::common, 2, 0x200, 0x38);
  config.add_virtio(0x60, CapabilityType::common, 3, 0x300, 0x38);   // second instance: ignored
  config.add_virtio(0x70, CapabilityType::notify, 2, 0x400, 0x100, 0);
  auto layout = parse_virtio_capabilities(config.span(), "dev");
  ASSERT_TRUE(layout.ok()) << layout.error().describe();
  EXPECT_EQ(layout->common.bar, 2);
  EXPECT_EQ(layout->common.offset, 0x200U);
  EXPECT_EQ(layout->notify_off_multiplier, 0U);
  EXPECT_FALSE(layout->isr.has_value());
  EXPECT_FALSE(layout->device.has_value());
}

TEST(VirtioPciCapabilities, RejectsBrokenOrLegacyDevices) {
  ConfigSpace no_list;
  no_list.put16(0x06, 0);
  auto legacy = parse_virtio_capabilities(no_list.span(), "0000:00:03.0");
  ASSERT_FALSE(legacy.ok());
  EXPECT_NE(legacy.error().message.find("0000:00:03.0"), std::string::npos);

  ConfigSpace no_notify;
  no_notify.add_virtio(0x40, CapabilityType::common, 4, 0, 0x1000);
  auto missing = parse_virtio_capabilities(no_notify.span(), "dev");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("notification"), std::string::npos) << missing.error().message;

  ConfigSpace short_notify;
  short_notify.add_virtio(0x40, CapabilityType::common, 4, 0, 0x1000);
  short_notify.add_virtio(0x50, CapabilityType::notify, 4, 0x3000, 0x1000);  // 16 bytes: no multiplier
  auto too_short = parse_virtio_capabilities(short_notify.span(), "dev");
  ASSERT_FALSE(too_short.ok());
  EXPECT_NE(too_short.error().message.find("notify_off_multiplier"), std::string::npos);

  ConfigSpace loop = qemu_like();
  loop.link(0x40, 0x98);  // the last entry (0x40) points back at the first (0x98)
  auto looping = parse_virtio_capabilities(loop.span(), "dev");
  ASSERT_FALSE(looping.ok());
  EXPECT_NE(looping.error().message.find("malformed"), std::string::npos);

  ConfigSpace into_header;
  into_header.add_raw(0x20, 0x09, 16);
  EXPECT_FALSE(parse_virtio_capabilities(into_header.span(), "dev").ok());

  std::array<std::byte, 64> tiny{};
  EXPECT_FALSE(parse_virtio_capabilities(tiny, "dev").ok());
}

}  // namespace
}  // namespace aether::drivers::virtio_net
