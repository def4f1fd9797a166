// The driver table (include/aether/drivers/driver_table.hpp): generated
// from the folders under src/drivers/, keyed by PCI vendor:device.
#include "aether/drivers/driver_table.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

namespace aether::drivers {
namespace {

TEST(DriverTable, ResolvesKnownIds) {
  const Driver* modern = find_driver(0x1af4, 0x1041);
  ASSERT_NE(modern, nullptr);
  EXPECT_EQ(modern->name, "virtio-net");
  EXPECT_EQ(find_driver(0x1af4, 0x1000), modern);  // transitional virtio-net
  const Driver* e1000e = find_driver(0x8086, 0x10d3);
  ASSERT_NE(e1000e, nullptr);
  EXPECT_EQ(e1000e->name, "e1000e (82574)");
  auto found = driver_for(0x8086, 0x10d3);
  ASSERT_TRUE(found.ok()) << found.error().describe();
  EXPECT_EQ(*found, e1000e);
}

TEST(DriverTable, RefusesUnknownIdsByName) {
  EXPECT_EQ(find_driver(0x8086, 0x100e), nullptr);  // e1000 (82540EM): no driver
  EXPECT_EQ(find_driver(0x1af4, 0x1042), nullptr);  // virtio-blk
  auto refused = driver_for(0x15b3, 0x1017);         // a Mellanox ConnectX-5
  ASSERT_FALSE(refused.ok());
  const std::string& message = refused.error().message;
  EXPECT_EQ(refused.error().code, std::make_error_code(std::errc::invalid_argument));
  EXPECT_NE(message.find("15b3:1017 is not a device Aether drives"), std::string::npos) << message;
  // ... and says what it does drive.
  EXPECT_NE(message.find("virtio-net (1af4:1041, 1af4:1000)"), std::string::npos) << message;
  EXPECT_NE(message.find("e1000e (82574) (8086:10d3)"), std::string::npos) << message;
}

TEST(DriverTable, EveryEntryIsCompleteAndNoIdIsClaimedTwice) {
  ASSERT_GE(driver_table().size(), 2U);
  std::set<std::pair<std::uint16_t, std::uint16_t>> seen;
  for (const Driver* driver : driver_table()) {
    ASSERT_NE(driver, nullptr);
    EXPECT_FALSE(driver->name.empty());
    EXPECT_NE(driver->open, nullptr) << driver->name;
    EXPECT_FALSE(driver->ids.empty()) << driver->name;
    for (const PciId& id : driver->ids) {
      EXPECT_TRUE(seen.emplace(id.vendor, id.device).second)
          << driver->name << " claims an ID another driver has: " << id.vendor << ":" << id.device;
      EXPECT_EQ(find_driver(id.vendor, id.device), driver) << driver->name;
    }
  }
}

}  // namespace
}  // namespace aether::drivers
