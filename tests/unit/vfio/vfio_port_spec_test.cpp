// The vfio: spec: address, queue_size, mode, and the errors a user sees.
#include "aether/backends/vfio_port.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/mem/mempool.hpp"
#include "aether/net/port_registry.hpp"

namespace aether::backends {
namespace {

using ::testing::HasSubstr;

Result<VfioSpec> parse(std::string_view text) {
  auto spec = net::parse_port_spec(text);
  EXPECT_TRUE(spec) << spec.error().describe();
  return parse_vfio_spec(*spec);
}

TEST(VfioPortSpec, DefaultsToPollingWith256Entries) {
  auto parsed = parse("vfio:0000:00:03.0");
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed->address.to_string(), "0000:00:03.0");
  EXPECT_EQ(parsed->options.queue_size, 256);
  EXPECT_EQ(parsed->options.completion, drivers::CompletionMode::poll);
}

TEST(VfioPortSpec, TakesShortAddressesQueueSizeAndInterruptMode) {
  auto parsed = parse("vfio:00:04.0?queue_size=1024&mode=interrupt");
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed->address.to_string(), "0000:00:04.0");
  EXPECT_EQ(parsed->options.queue_size, 1024);
  EXPECT_EQ(parsed->options.completion, drivers::CompletionMode::interrupt);
}

TEST(VfioPortSpec, ErrorsNameTheBadPart) {
  auto bad_address = parse("vfio:eth0");
  ASSERT_FALSE(bad_address);
  EXPECT_THAT(bad_address.error().describe(), HasSubstr("eth0"));
  auto not_power = parse("vfio:00:03.0?queue_size=100");
  ASSERT_FALSE(not_power);
  EXPECT_THAT(not_power.error().describe(), HasSubstr("queue_size=100 must be a power of two"));
  auto too_big = parse("vfio:00:03.0?queue_size=8192");
  ASSERT_FALSE(too_big);
  EXPECT_THAT(too_big.error().describe(), HasSubstr("queue_size"));
  auto bad_mode = parse("vfio:00:03.0?mode=sleepy");
  ASSERT_FALSE(bad_mode);
  EXPECT_THAT(bad_mode.error().describe(), HasSubstr("sleepy"));
  auto unknown = parse("vfio:00:03.0?queues=2");
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().describe(), HasSubstr("queues"));
}

TEST(VfioPortSpec, AMissingDeviceIsNamedWithWhereToLook) {
  auto pool = mem::Mempool::create(net::default_packet_pool_config(64, "vfio-spec-test"));
  ASSERT_TRUE(pool) << pool.error().describe();
  // Domain ffff, bus ff: no machine has it.
  auto port = net::open_port("vfio:ffff:ff:1f.7", net::PortOptions{pool->get(), 0});
  ASSERT_FALSE(port);
  EXPECT_THAT(port.error().describe(), HasSubstr("port 'vfio:ffff:ff:1f.7': no PCI device ffff:ff:1f.7"));
  EXPECT_THAT(port.error().describe(), HasSubstr("aether devices"));
}

}  // namespace
}  // namespace aether::backends
