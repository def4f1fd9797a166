// open_e1000e_port checks BAR 0's size (VFIO's region size) before touching
// a register: a device whose BAR 0 is smaller than the registers the driver
// uses would otherwise have it read and write past the mapping.
#include <gtest/gtest.h>

#include "aether/drivers/e1000e/device_reset.hpp"
#include "aether/drivers/e1000e/registers.hpp"

namespace aether::drivers::e1000e {
namespace {

TEST(E1000eBar0, EveryRegisterTheDriverUsesLiesInsideTheCheckedSize) {
  for (const std::size_t offset : {reg::ctrl, reg::status, reg::icr, reg::ims, reg::imc, reg::interrupt_auto_clear,
                                   reg::interrupt_vector_allocation, reg::rctl, reg::tctl, reg::tipg, reg::rdbal,
                                   reg::rdbah, reg::rdlen, reg::rdh, reg::rdt, reg::tdbal, reg::tdbah, reg::tdlen,
                                   reg::tdh, reg::tdt, reg::missed_packets, reg::receive_filter_control,
                                   reg::multicast_table + 127 * 4, reg::receive_address_low,
                                   reg::receive_address_high}) {
    EXPECT_LE(offset + 4, bar0_bytes_used) << std::hex << offset;
  }
}

TEST(E1000eBar0, A128KiBBarIsAcceptedAndAShortOneRefusedWithItsSize) {
  EXPECT_TRUE(check_bar0_size(128 * 1024, "0000:00:04.0"));
  EXPECT_TRUE(check_bar0_size(bar0_bytes_used, "0000:00:04.0"));
  auto refused = check_bar0_size(0x4000, "0000:00:04.0");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("0000:00:04.0: BAR 0 has 0x4000 bytes"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(check_bar0_size(bar0_bytes_used - 1, "0000:00:04.0"));
  EXPECT_FALSE(check_bar0_size(0, "0000:00:04.0"));
}

}  // namespace
}  // namespace aether::drivers::e1000e
