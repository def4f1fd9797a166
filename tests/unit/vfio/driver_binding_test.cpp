#include "aether/vfio/driver_binding.hpp"

#include <gtest/gtest.h>

#include "fake_sysfs.hpp"

namespace aether::vfio {
namespace {

constexpr const char* bdf = "0000:00:03.0";

BindingOptions options_for(const testing::FakeSysfs& fake, bool force = false) {
  BindingOptions options;
  options.sysfs_root = fake.sys();
  options.proc_root = fake.proc();
  options.state_dir = fake.state();
  options.force = force;
  options.settle_time = std::chrono::milliseconds(0);
  return options;
}

TEST(DriverBinding, RefusesAnInterfaceCarryingTheDefaultRoute) {
  testing::FakeSysfs fake;
  fake.add_device(bdf, "0x020000", "0x1af4", "0x1041", "virtio-pci", 4);
  fake.add_netdev(bdf, "eth0", "0x1003", true);
  fake.set_routes("eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
  std::filesystem::create_directories(fake.sys() + "/bus/pci/drivers/vfio-pci");
  auto bound = bind_to_vfio(*PciAddress::parse(bdf), options_for(fake));
  ASSERT_FALSE(bound.ok());
  EXPECT_NE(bound.error().message.find("refusing"), std::string::npos) << bound.error().message;
  EXPECT_NE(bound.error().message.find("eth0"), std::string::npos);
  EXPECT_NE(bound.error().message.find("--force"), std::string::npos);
  // Nothing was written.
  EXPECT_EQ(testing::FakeSysfs::read(fake.device_dir(bdf) + "/driver_override"), "(null)\n");
  EXPECT_EQ(testing::FakeSysfs::read(fake.sys() + "/bus/pci/drivers_probe"), "");
  EXPECT_FALSE(std::filesystem::exists(fake.state() + "/" + bdf));
}

TEST(DriverBinding, ExplainsMissingPrerequisites) {
  testing::FakeSysfs fake;
  fake.add_device(bdf, "0x020000", "0x8086", "0x10d3", "e1000e", 4);
  fake.add_device("0000:00:1f.0", "0x060100", "0x8086", "0x2918", "lpc_ich", 5);
  auto no_vfio = bind_to_vfio(*PciAddress::parse(bdf), options_for(fake));
  ASSERT_FALSE(no_vfio.ok());
  EXPECT_NE(no_vfio.error().message.find("modprobe vfio-pci"), std::string::npos) << no_vfio.error().message;
  auto not_network = bind_to_vfio(*PciAddress::parse("0000:00:1f.0"), options_for(fake));
  ASSERT_FALSE(not_network.ok());
  EXPECT_NE(not_network.error().message.find("not a network controller"), std::string::npos);
}

TEST(DriverBinding, WritesOverrideUnbindProbeAndRemembersTheDriver) {
  testing::FakeSysfs fake;
  fake.add_device(bdf, "0x020000", "0x8086", "0x10d3", "e1000e", 4);
  fake.add_netdev(bdf, "eth1", "0x1003");
  fake.set_routes("eth1\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
  std::filesystem::create_directories(fake.sys() + "/bus/pci/drivers/vfio-pci");
  // --force takes it despite the route. The fake kernel does not rebind, so
  // the final check reports that the device is still on e1000e.
  auto bound = bind_to_vfio(*PciAddress::parse(bdf), options_for(fake, /*force=*/true));
  ASSERT_FALSE(bound.ok());
  EXPECT_NE(bound.error().message.find("bound to e1000e after"), std::string::npos) << bound.error().message;
  EXPECT_EQ(testing::FakeSysfs::read(fake.device_dir(bdf) + "/driver_override"), "vfio-pci");
  EXPECT_EQ(testing::FakeSysfs::read(fake.sys() + "/bus/pci/drivers/e1000e/unbind"), bdf);
  EXPECT_EQ(testing::FakeSysfs::read(fake.sys() + "/bus/pci/drivers_probe"), bdf);
  EXPECT_EQ(testing::FakeSysfs::read(fake.state() + "/" + bdf), "e1000e\n");

  // What the kernel would have done: vfio-pci took it. bind is then a no-op.
  fake.bind_driver(bdf, "vfio-pci");
  auto again = bind_to_vfio(*PciAddress::parse(bdf), options_for(fake));
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_FALSE(again->changed);

  // unbind: clears the override, unbinds from vfio-pci, probes, and (fake
  // kernel again) finds the device not back on e1000e.
  auto unbound = unbind_from_vfio(*PciAddress::parse(bdf), options_for(fake));
  ASSERT_FALSE(unbound.ok());
  EXPECT_NE(unbound.error().message.find("original driver e1000e"), std::string::npos) << unbound.error().message;
  EXPECT_EQ(testing::FakeSysfs::read(fake.device_dir(bdf) + "/driver_override"), "\n");
  EXPECT_EQ(testing::FakeSysfs::read(fake.sys() + "/bus/pci/drivers/vfio-pci/unbind"), bdf);
  fake.bind_driver(bdf, "e1000e");
  fake.write(fake.device_dir(bdf) + "/driver_override", "(null)\n");
  auto done = unbind_from_vfio(*PciAddress::parse(bdf), options_for(fake));
  ASSERT_TRUE(done.ok()) << done.error().describe();
  EXPECT_FALSE(done->changed);
  EXPECT_FALSE(std::filesystem::exists(fake.state() + "/" + bdf));
}

}  // namespace
}  // namespace aether::vfio
