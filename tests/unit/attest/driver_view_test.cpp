// What the driver read from a device, as measured text: the lines per
// driver, the NVM checksum, and a device Aether does not drive or that is
// not bound to vfio-pci (nothing is read from it).
#include <gtest/gtest.h>

#include <vector>

#include "aether/attest/driver_view.hpp"

namespace aether::attest {
namespace {

vfio::PciFunction function_of(std::uint16_t vendor, std::uint16_t device, std::string driver) {
  vfio::PciFunction function;
  function.address = *vfio::PciAddress::parse("0000:00:04.0");
  function.vendor = vendor;
  function.device = device;
  function.driver = std::move(driver);
  return function;
}

TEST(DriverView, NvmWordsSumModulo65536) {
  std::vector<std::uint16_t> words(e1000e_nvm_checksum_words, 0);
  words[0] = 0x5452;                                        // a MAC word
  words[0x3f] = static_cast<std::uint16_t>(0xbaba - 0x5452);  // the checksum word makes the sum 0xBABA
  EXPECT_EQ(nvm_word_sum(words), e1000e_nvm_checksum);
  words[1] = 0xffff;
  words[2] = 0x0001;  // carries wrap
  EXPECT_EQ(nvm_word_sum(words), e1000e_nvm_checksum);
}

TEST(DriverView, E1000eLines) {
  const auto function = function_of(0x8086, 0x10d3, "vfio-pci");
  DriverView view;
  view.reads = E1000eView{MacAddress{0x52, 0x54, 0x00, 0x12, 0x34, 0x57}, true, 0xbaba};
  EXPECT_EQ(format_driver_view(function, view),
            "driver_read e1000e\ne1000e_mac 52:54:00:12:34:57 valid\ne1000e_nvm_sum 0xbaba valid\n");
  view.reads = E1000eView{MacAddress{0x52, 0x54, 0x00, 0x12, 0x34, 0x57}, false, 0x1234};
  EXPECT_EQ(format_driver_view(function, view),
            "driver_read e1000e\ne1000e_mac 52:54:00:12:34:57 not-valid (RAH.AV clear)\n"
            "e1000e_nvm_sum 0x1234 invalid (0xbaba expected)\n");
}

TEST(DriverView, VirtioWithoutMacFeature) {
  DriverView view;
  view.reads = VirtioNetView{0x0000000100000000, std::nullopt};
  EXPECT_EQ(format_driver_view(function_of(0x1af4, 0x1041, "vfio-pci"), view),
            "driver_read virtio-net\nvirtio_device_features 0x0000000100000000\n"
            "virtio_mac none (VIRTIO_NET_F_MAC not offered)\n");
}

TEST(DriverView, NothingReadFromOtherDriversOrDevices) {
  EXPECT_EQ(format_driver_view(function_of(0x1af4, 0x1041, "virtio-pci"), DriverView{}),
            "driver_read none (bound to virtio-pci, not vfio-pci)\n");
  EXPECT_EQ(format_driver_view(function_of(0x1af4, 0x1041, ""), DriverView{}),
            "driver_read none (bound to no driver, not vfio-pci)\n");
  EXPECT_EQ(format_driver_view(function_of(0x8086, 0x100e, "vfio-pci"), DriverView{}),
            "driver_read none (no Aether driver for 8086:100e)\n");
  EXPECT_EQ(format_driver_view(function_of(0x8086, 0x10d3, "vfio-pci"), DriverView{{}, "group busy"}),
            "driver_read unavailable: group busy\n");
}

TEST(DriverView, RealReaderReadsNothingFromANonVfioDevice) {
  // No VFIO is opened for a device bound elsewhere: nothing to read, no error.
  const DriverView view = read_driver_view(function_of(0x1af4, 0x1041, "virtio-pci"), "/nonexistent-sysfs");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(view.reads));
  EXPECT_TRUE(view.unavailable.empty());
}

}  // namespace
}  // namespace aether::attest
