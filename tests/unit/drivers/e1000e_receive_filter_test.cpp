// The 82574's multicast table and promiscuous bits (receive_filter.hpp),
// with BAR 0 as plain memory.
#include "aether/drivers/e1000e/receive_filter.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <memory>

#include "aether/drivers/e1000e/registers.hpp"
#include "aether/drivers/multicast.hpp"

namespace aether::drivers::e1000e {
namespace {

std::uint32_t group(const char* dotted) {
  in_addr address{};
  EXPECT_EQ(inet_pton(AF_INET, dotted, &address), 1) << dotted;
  return address.s_addr;  // network byte order
}

class ReceiveFilterTest : public ::testing::Test {
 protected:
  volatile std::byte* bar0() { return reinterpret_cast<volatile std::byte*>(registers_.get()); }
  std::uint32_t& reg32(std::size_t offset) { return registers_[offset / 4]; }
  std::uint32_t& table(std::size_t index) { return reg32(reg::multicast_table + 4 * index); }

  std::unique_ptr<std::uint32_t[]> registers_{new std::uint32_t[0x20000 / 4]()};
  ReceiveFilter filter_{bar0(), "0000:00:04.0"};
};

TEST_F(ReceiveFilterTest, GroupMacAndTableIndex) {
  // 224.0.0.251 (mDNS) -> 01:00:5e:00:00:fb; bits 47:36 = 0xfb0.
  const auto mac = ipv4_multicast_mac(group("224.0.0.251"));
  EXPECT_EQ(mac, (net::MacAddress{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}));
  EXPECT_EQ(ReceiveFilter::table_index(mac), 0xfb0);
  // The 24th bit of the group is not in the MAC (RFC 1112, 6.4).
  EXPECT_EQ(ipv4_multicast_mac(group("239.129.2.3")),
            (net::MacAddress{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}));
}

TEST_F(ReceiveFilterTest, ClearZeroesTheWholeTable) {
  for (std::size_t i = 0; i < ReceiveFilter::table_registers; ++i) table(i) = 0xdeadbeef;
  filter_.clear();
  for (std::size_t i = 0; i < ReceiveFilter::table_registers; ++i) EXPECT_EQ(table(i), 0U) << i;
}

TEST_F(ReceiveFilterTest, JoinSetsTheGroupsBitAndLeaveClearsItWithTheLastUser) {
  filter_.clear();
  ASSERT_TRUE(filter_.join(group("224.0.0.251")).ok());
  EXPECT_EQ(table(0xfb0 >> 5), 1U << (0xfb0 & 31));
  // 224.0.0.1 and 224.0.1.1 hash to the same bit (0x010): register 0, bit 16.
  ASSERT_TRUE(filter_.join(group("224.0.0.1")).ok());
  ASSERT_TRUE(filter_.join(group("224.0.1.1")).ok());
  ASSERT_TRUE(filter_.join(group("224.0.1.1")).ok());  // joining twice is not an error
  EXPECT_EQ(table(0), 1U << 16);
  ASSERT_TRUE(filter_.leave(group("224.0.0.1")).ok());
  EXPECT_EQ(table(0), 1U << 16);  // 224.0.1.1 still wants it
  ASSERT_TRUE(filter_.leave(group("224.0.1.1")).ok());
  EXPECT_EQ(table(0), 0U);
  EXPECT_EQ(table(0xfb0 >> 5), 1U << (0xfb0 & 31));  // untouched
}

TEST_F(ReceiveFilterTest, RefusesWhatIsNotAGroupOrNotJoined) {
  auto unicast = filter_.join(group("10.0.0.1"));
  ASSERT_FALSE(unicast.ok());
  EXPECT_NE(unicast.error().message.find("10.0.0.1 is not an IPv4 multicast group"), std::string::npos)
      << unicast.error().message;
  EXPECT_NE(unicast.error().message.find("0000:00:04.0"), std::string::npos);
  auto not_joined = filter_.leave(group("224.0.0.9"));
  ASSERT_FALSE(not_joined.ok());
  EXPECT_NE(not_joined.error().message.find("224.0.0.9 was not joined"), std::string::npos)
      << not_joined.error().message;
}

TEST_F(ReceiveFilterTest, PromiscuousSetsAndClearsUpeAndMpeOnly) {
  reg32(reg::rctl) = rctl::enable | rctl::broadcast_accept | rctl::strip_crc;
  filter_.set_promiscuous(true);
  EXPECT_EQ(reg32(reg::rctl), rctl::enable | rctl::broadcast_accept | rctl::strip_crc | 0x8U | 0x10U);
  filter_.set_promiscuous(false);
  EXPECT_EQ(reg32(reg::rctl), rctl::enable | rctl::broadcast_accept | rctl::strip_crc);
}

}  // namespace
}  // namespace aether::drivers::e1000e
