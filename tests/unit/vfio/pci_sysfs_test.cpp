#include "aether/vfio/pci_sysfs.hpp"

#include <gtest/gtest.h>

#include "aether/vfio/uapi.hpp"  // its static_asserts are checked by compiling it
#include "fake_sysfs.hpp"

namespace aether::vfio {
namespace {

TEST(PciSysfs, ReadsEveryAttributeOfAFakeTree) {
  testing::FakeSysfs fake;
  fake.add_device("0000:00:03.0", "0x020000", "0x1af4", "0x1041", "virtio-pci", 5);
  fake.add_netdev("0000:00:03.0", "eth0", "0x1003", /*under_virtio=*/true);
  fake.add_device("0000:00:04.0", "0x020000", "0x8086", "0x10d3", "", 6);
  fake.add_device("0000:00:00.0", "0x060000", "0x8086", "0x29c0", "", -1);
  fake.write(fake.device_dir("0000:00:04.0") + "/driver_override", "vfio-pci\n");
  std::filesystem::create_directories(fake.device_dir("0000:00:04.0") + "/vfio-dev/vfio0");
  fake.write(fake.device_dir("0000:00:04.0") + "/numa_node", "-1\n");

  PciSysfs sysfs(fake.sys());
  auto functions = sysfs.list();
  ASSERT_TRUE(functions.ok()) << functions.error().describe();
  ASSERT_EQ(functions->size(), 3U);
  const PciFunction& bridge = (*functions)[0];
  EXPECT_FALSE(bridge.is_network());
  EXPECT_FALSE(bridge.iommu_group.has_value());
  const PciFunction& virtio = (*functions)[1];
  EXPECT_EQ(virtio.address.to_string(), "0000:00:03.0");
  EXPECT_TRUE(virtio.is_network());
  EXPECT_EQ(virtio.vendor, 0x1af4);
  EXPECT_EQ(virtio.device, 0x1041);
  EXPECT_EQ(virtio.driver, "virtio-pci");
  EXPECT_EQ(virtio.driver_override, "");
  EXPECT_EQ(virtio.iommu_group, 5U);
  EXPECT_EQ(virtio.numa_node, 0);
  EXPECT_EQ(virtio.netdevs, std::vector<std::string>{"eth0"});
  const PciFunction& intel = (*functions)[2];
  EXPECT_EQ(intel.driver, "");
  EXPECT_EQ(intel.driver_override, "vfio-pci");
  EXPECT_EQ(intel.vfio_cdev, "vfio0");
  EXPECT_EQ(intel.numa_node, -1);
  EXPECT_TRUE(sysfs.iommu_present());
  EXPECT_FALSE(sysfs.vfio_pci_loaded());

  auto members = sysfs.iommu_group_members(5);
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 1U);
  EXPECT_EQ((*members)[0].to_string(), "0000:00:03.0");
}

TEST(PciSysfs, MissingDeviceAndBadFilesAreNamed) {
  testing::FakeSysfs fake;
  PciSysfs sysfs(fake.sys());
  auto missing = sysfs.read(*PciAddress::parse("0000:00:09.0"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("0000:00:09.0"), std::string::npos);
  fake.add_device("0000:00:05.0", "0x02zz00", "0x8086", "0x10d3", "", -1);
  auto bad = sysfs.read(*PciAddress::parse("0000:00:05.0"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("/class"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(sysfs.iommu_present());
}

}  // namespace
}  // namespace aether::vfio
