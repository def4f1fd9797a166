#include "aether/vfio/device_support.hpp"

#include <gtest/gtest.h>

#include "fake_sysfs.hpp"

namespace aether::vfio {
namespace {

PciFunction network_function(std::uint16_t vendor, std::uint16_t device, std::string driver, bool grouped = true) {
  PciFunction function;
  function.address = *PciAddress::parse("0000:00:03.0");
  function.class_code = 0x020000;
  function.vendor = vendor;
  function.device = device;
  function.driver = std::move(driver);
  if (grouped) function.iommu_group = 3;
  return function;
}

TEST(DeviceSupport, KnowsItsDrivers) {
  EXPECT_EQ(driver_for(0x1af4, 0x1041), DriverKind::virtio_net);
  EXPECT_EQ(driver_for(0x1af4, 0x1000), DriverKind::virtio_net);
  EXPECT_EQ(driver_for(0x8086, 0x10d3), DriverKind::e1000e);
  EXPECT_EQ(driver_for(0x8086, 0x100e), DriverKind::none);  // e1000 (82540EM): no driver
  EXPECT_EQ(driver_for(0x1af4, 0x1042), DriverKind::none);  // virtio-blk
}

TEST(DeviceSupport, HostInterfaceWithRoutesIsNotBindable) {
  NetdevUsage eth0{"eth0", true, "up", 5, true};
  auto verdict = assess_support(network_function(0x1af4, 0x1041, "virtio-pci"), {eth0}, /*iommu_present=*/false,
                                "virtio-net");
  EXPECT_FALSE(verdict.bindable);
  EXPECT_TRUE(verdict.in_use);
  EXPECT_NE(verdict.summary.find("in use by the host"), std::string::npos) << verdict.summary;
  EXPECT_NE(verdict.summary.find("default route"), std::string::npos);
  EXPECT_NE(verdict.summary.find("--force"), std::string::npos);
  EXPECT_NE(verdict.summary.find("no IOMMU"), std::string::npos);
}

TEST(DeviceSupport, VerdictsForTheOtherCases) {
  NetdevUsage down{"eth1", false, "down", 0, false};
  auto free_device = assess_support(network_function(0x8086, 0x10d3, "e1000e"), {down}, true, "e1000e (82574)");
  EXPECT_TRUE(free_device.bindable);
  EXPECT_NE(free_device.summary.find("aether bind 0000:00:03.0"), std::string::npos) << free_device.summary;
  auto bound = assess_support(network_function(0x8086, 0x10d3, "vfio-pci"), {}, true, "e1000e (82574)");
  EXPECT_TRUE(bound.bound_to_vfio);
  EXPECT_TRUE(bound.bindable);
  EXPECT_NE(bound.summary.find("e1000e (82574)"), std::string::npos) << bound.summary;
  auto unknown = assess_support(network_function(0x15b3, 0x1017, "mlx5_core"), {}, true, "");
  EXPECT_TRUE(unknown.driver.empty());
  EXPECT_FALSE(unknown.bindable);
  auto ungrouped = assess_support(network_function(0x8086, 0x10d3, "e1000e", false), {}, true, "e1000e (82574)");
  EXPECT_FALSE(ungrouped.bindable);
  EXPECT_NE(ungrouped.summary.find("IOMMU group"), std::string::npos);
}

TEST(NetdevUsage, CountsRoutesAndDefaultRoute) {
  testing::FakeSysfs fake;
  fake.add_device("0000:00:03.0", "0x020000", "0x1af4", "0x1041", "virtio-pci", 1);
  fake.add_netdev("0000:00:03.0", "eth0", "0x1003");
  fake.add_netdev("0000:00:03.0", "eth1", "0x1002");
  fake.set_routes(
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "eth10\t000300C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
  fake.write(fake.proc() + "/net/ipv6_route",
             "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 "
             "00000400 00000001 00000000 00000003 eth0\n"
             "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 "
             "00000100 00000001 00000000 00000001 eth0\n");
  auto eth0 = read_netdev_usage("eth0", fake.sys(), fake.proc());
  ASSERT_TRUE(eth0.ok()) << eth0.error().describe();
  EXPECT_TRUE(eth0->up);
  EXPECT_EQ(eth0->route_count, 3U);  // 2 IPv4 + IPv6 default; link-local ignored
  EXPECT_TRUE(eth0->default_route);
  EXPECT_TRUE(eth0->in_use());
  auto eth1 = read_netdev_usage("eth1", fake.sys(), fake.proc());
  ASSERT_TRUE(eth1.ok());
  EXPECT_FALSE(eth1->up);
  EXPECT_FALSE(eth1->in_use());
  auto missing = read_netdev_usage("eth9", fake.sys(), fake.proc());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("eth9"), std::string::npos);
}

}  // namespace
}  // namespace aether::vfio
