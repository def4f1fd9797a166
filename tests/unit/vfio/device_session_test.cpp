// DeviceSession's choice of kernel interface, up to the first open(): the
// AETHER_VFIO_INTERFACE override and the errors that say why the device
// cdev path is unavailable. The opens themselves need a real kernel (the
// guest tests: vfio_guest_test.cpp, vfio_cdev_guest_test.cpp).
#include "aether/vfio/device_session.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "fake_sysfs.hpp"

namespace aether::vfio {
namespace {

using ::testing::HasSubstr;

// Sets AETHER_VFIO_INTERFACE for one test and restores the old value.
class InterfaceVariable {
 public:
  explicit InterfaceVariable(const char* value) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~InterfaceVariable() {
    if (old_) {
      ::setenv(name, old_->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  InterfaceVariable(const InterfaceVariable&) = delete;
  InterfaceVariable& operator=(const InterfaceVariable&) = delete;

 private:
  static constexpr const char* name = "AETHER_VFIO_INTERFACE";
  std::optional<std::string> old_;
};

// A virtio-net function bound to vfio-pci with its sysfs vfio-dev entry, and
// an empty /dev under the same fake root.
struct BoundDevice {
  testing::FakeSysfs fake;
  std::string dev;
  SessionOptions options;
  PciAddress address = *PciAddress::parse("0000:00:03.0");
  BoundDevice() {
    fake.add_device("0000:00:03.0", "0x020000", "0x1af4", "0x1041", "vfio-pci", 4);
    std::filesystem::create_directories(fake.device_dir("0000:00:03.0") + "/vfio-dev/vfio0");
    dev = fake.state() + "/dev";
    std::filesystem::create_directories(dev);
    options.sysfs_root = fake.sys();
    options.dev_root = dev;
  }
};

TEST(DeviceSession, RejectsAnUnknownInterfaceRequest) {
  BoundDevice device;
  InterfaceVariable variable("iommu");
  auto session = DeviceSession::open(device.address, device.options);
  ASSERT_FALSE(session.ok());
  EXPECT_THAT(session.error().message, HasSubstr("AETHER_VFIO_INTERFACE=iommu is not one of auto, container, cdev"));
}

TEST(DeviceSession, CdevRequestedWithoutIommufdSaysWhy) {
  BoundDevice device;
  InterfaceVariable variable("cdev");
  auto session = DeviceSession::open(device.address, device.options);
  ASSERT_FALSE(session.ok());
  EXPECT_THAT(session.error().message, HasSubstr("AETHER_VFIO_INTERFACE=cdev, but " + device.dev + "/iommu missing"));
  EXPECT_THAT(session.error().message, HasSubstr("CONFIG_IOMMUFD"));
}

// The sysfs vfio-dev entry exists on kernels without VFIO_DEVICE_CDEV too;
// only the character device under /dev/vfio/devices means the path exists.
TEST(DeviceSession, CdevRequestedWithoutTheCharacterDeviceSaysWhy) {
  BoundDevice device;
  testing::FakeSysfs::write(device.dev + "/iommu", "");
  InterfaceVariable variable("cdev");
  auto session = DeviceSession::open(device.address, device.options);
  ASSERT_FALSE(session.ok());
  EXPECT_THAT(session.error().message, HasSubstr("has no /dev/vfio/devices/vfioN (kernel without VFIO_DEVICE_CDEV)"));
}

// Without the cdev, the automatic choice falls back to the container path
// (here: its /dev/vfio/vfio is missing, and the error names it).
TEST(DeviceSession, AutomaticChoiceFallsBackToTheContainer) {
  BoundDevice device;
  testing::FakeSysfs::write(device.dev + "/iommu", "");
  InterfaceVariable variable("auto");
  auto session = DeviceSession::open(device.address, device.options);
  ASSERT_FALSE(session.ok());
  EXPECT_THAT(session.error().message, HasSubstr(device.dev + "/vfio/vfio"));
}

TEST(DeviceSession, RefusesADeviceNotBoundToVfioPci) {
  BoundDevice device;
  device.fake.bind_driver("0000:00:03.0", "virtio-pci");
  auto session = DeviceSession::open(device.address, device.options);
  ASSERT_FALSE(session.ok());
  EXPECT_THAT(session.error().message, HasSubstr("run `aether bind 0000:00:03.0` first"));
}

}  // namespace
}  // namespace aether::vfio
