// Measurements of a fake host: what each event holds, and that volatile
// device bytes do not change it while identity does.
#include <gtest/gtest.h>

#include "aether/attest/device_measurement.hpp"
#include "aether/attest/measurements.hpp"
#include "fake_attest_host.hpp"

namespace aether::attest {
namespace {

using test::FakeAttestHost;
using test::make_config_space;

MeasureOptions options_for(const FakeAttestHost& host) {
  MeasureOptions options;
  options.roots = host.roots();
  options.binary_digest = Sha256{};  // the test binary's hash is not what is tested here
  options.driver_view_reader = host.driver_view_reader();
  return options;
}

std::string data_of(const EventLog& log, std::string_view name) {
  const Event* event = log.find(name);
  return event == nullptr ? std::string("<missing>") : event->data;
}

TEST(Measurements, FakeHostEventsInOrder) {
  FakeAttestHost host;
  auto log = measure_host(options_for(host));
  ASSERT_TRUE(log) << log.error().describe();
  std::vector<std::string> names;
  for (const auto& event : log->events) names.push_back(event.name);
  EXPECT_EQ(names, (std::vector<std::string>{"aether.binary", "aether.config", "partition.cmdline", "partition.cpus",
                                             "partition.cpuset", "partition.irqs", "partition.rt",
                                             "partition.workqueue", "partition.cpuidle", "iommu",
                                             "device.0000:00:03.0"}));
  EXPECT_NE(data_of(*log, "partition.cmdline").find("nohz_full=2-3"), std::string::npos);
  EXPECT_NE(data_of(*log, "partition.irqs").find("irq 24 0-1\n"), std::string::npos) << data_of(*log, "partition.irqs");
  EXPECT_EQ(data_of(*log, "partition.rt").find("sched_rt_runtime_us -1\n"), 0u);
  EXPECT_NE(data_of(*log, "partition.cpuset").find("/sys/fs/cgroup/aether isolated cpus 2-3"), std::string::npos)
      << data_of(*log, "partition.cpuset");
  EXPECT_NE(data_of(*log, "iommu").find("group 3 type DMA"), std::string::npos) << data_of(*log, "iommu");
  const std::string device = data_of(*log, "device.0000:00:03.0");
  EXPECT_NE(device.find("id 1af4:1041 subsystem 0x1af4:0x1100"), std::string::npos) << device;
  EXPECT_NE(device.find("driver vfio-pci\n"), std::string::npos);
  EXPECT_NE(device.find("msix_table_size 3\n"), std::string::npos);
  EXPECT_NE(device.find("capabilities 0x11@0x40 0x09@0x50\n"), std::string::npos) << device;
  EXPECT_NE(device.find("bar0 size 0x1000\nbar4 size 0x4000\n"), std::string::npos) << device;
  EXPECT_NE(device.find("iommu_group 3 type DMA\niommu_group_members 0000:00:03.0\n"), std::string::npos);
  EXPECT_NE(device.find("driver_read virtio-net\nvirtio_device_features 0x000000030079bfe7\n"
                        "virtio_mac 52:54:00:12:34:56\n"),
            std::string::npos)
      << device;
}

TEST(Measurements, SameHostSameLog) {
  FakeAttestHost host;
  auto first = measure_host(options_for(host));
  auto second = measure_host(options_for(host));
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->replay(), second->replay());
}

TEST(Measurements, ConfigFileIsHashedAndAMissingOneNamed) {
  FakeAttestHost host;
  host.write("aether.conf", "cpus = 2-3\n");
  MeasureOptions options = options_for(host);
  options.config = host.root() / "aether.conf";
  auto log = measure_host(options);
  ASSERT_TRUE(log);
  EXPECT_EQ(data_of(*log, "aether.config"), "sha256 " + to_hex(sha256("cpus = 2-3\n")) + "\n");
  options.config = host.root() / "absent.conf";
  auto missing = measure_host(options);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("config file"), std::string::npos) << missing.error().message;
}

TEST(Measurements, AListedDeviceThatDoesNotExistIsNamed) {
  FakeAttestHost host;
  MeasureOptions options = options_for(host);
  options.devices.push_back(*vfio::PciAddress::parse("0000:00:09.0"));
  auto log = measure_host(options);
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().message.find("0000:00:09.0"), std::string::npos) << log.error().message;
}

TEST(Measurements, DeviceGoneBetweenMeasurementAndQuoteIsNamed) {
  FakeAttestHost host;
  auto log = measure_host(options_for(host));
  ASSERT_TRUE(log);
  EXPECT_TRUE(check_devices_still_present(*log, options_for(host)));
  std::filesystem::remove_all(host.device_dir("0000:00:03.0"));
  const auto gone = check_devices_still_present(*log, options_for(host));
  ASSERT_FALSE(gone);
  EXPECT_NE(gone.error().message.find("device 0000:00:03.0 disappeared between measurement and quote"),
            std::string::npos)
      << gone.error().message;
}

TEST(DeviceMeasurement, VolatileHeaderBytesAreMasked) {
  const auto config = make_config_space(0x1af4, 0x1041, 0x1af4, 0x1100, 3);
  auto base = masked_header_digest(config, "test");
  ASSERT_TRUE(base);
  for (const std::size_t offset : {0x04, 0x06, 0x0c, 0x0d, 0x10, 0x24, 0x30, 0x3c}) {
    auto changed = config;
    changed[offset] ^= 0xff;
    EXPECT_EQ(*masked_header_digest(changed, "test"), *base) << "offset " << offset;
  }
  for (const std::size_t offset : {0x00, 0x02, 0x08, 0x0b, 0x2c, 0x2e, 0x34, 0x3d}) {
    auto changed = config;
    changed[offset] ^= 0xff;
    EXPECT_NE(*masked_header_digest(changed, "test"), *base) << "offset " << offset;
  }
  EXPECT_FALSE(masked_header_digest(std::span(config).first(63), "short"));
}

TEST(DeviceMeasurement, CapabilityListAndMsixSize) {
  const auto config = make_config_space(0x8086, 0x10d3, 0x8086, 0, 5);
  const auto capabilities = capability_list(config);
  ASSERT_EQ(capabilities.size(), 2u);
  EXPECT_EQ(capabilities[0].id, 0x11);
  EXPECT_EQ(capabilities[1].offset, 0x50);
  EXPECT_EQ(msix_table_size(config), 5u);
  auto looped = config;
  looped[0x51] = 0x40;  // 0x50 points back to 0x40: the walk must stop
  EXPECT_LE(capability_list(looped).size(), 48u);
  auto no_list = config;
  no_list[0x06] = 0;  // Status says: no capabilities
  EXPECT_TRUE(capability_list(no_list).empty());
  EXPECT_EQ(msix_table_size(no_list), 0u);
}

}  // namespace
}  // namespace aether::attest
