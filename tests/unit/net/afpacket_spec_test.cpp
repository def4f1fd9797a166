// afpacket port specs: defaults, every parameter, and the ring geometry
// the kernel would refuse, refused here first with an error that says what
// to change.
#include <unistd.h>

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/backends/afpacket_port.hpp"
#include "backend_spec_test_support.hpp"

namespace aether::backends {
namespace {

using ::testing::HasSubstr;

Result<AfPacketConfig> parse(const std::string& text) { return test::parse_backend_spec(&parse_afpacket_config, text); }
std::string error_of(const std::string& text) { return test::backend_spec_error(&parse_afpacket_config, text); }

TEST(AfPacketSpec, DefaultsToVersion2WithQdiscBypass) {
  auto config = parse("afpacket:veth0");
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->interface, "veth0");
  EXPECT_EQ(config->version, 2u);
  EXPECT_EQ(config->frames, 2048u);
  EXPECT_EQ(config->frame_size, 2048u);
  EXPECT_EQ(config->block_size, 262144u);
  EXPECT_TRUE(config->qdisc_bypass);
}

TEST(AfPacketSpec, WaitBlockAsksForAnInterruptFd) {
  EXPECT_FALSE(parse("afpacket:veth0")->wait_block);
  EXPECT_TRUE(parse("afpacket:veth0?wait=block")->wait_block);
  EXPECT_FALSE(parse("afpacket:veth0?wait=nap").ok());
}

TEST(AfPacketSpec, TakesEveryParameter) {
  auto config = parse(
      "afpacket:eth1?version=3&frames=512&frame_size=4096&block_size=65536&block_timeout_ms=4"
      "&qdisc_bypass=0");
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->interface, "eth1");
  EXPECT_EQ(config->version, 3u);
  EXPECT_EQ(config->frames, 512u);
  EXPECT_EQ(config->frame_size, 4096u);
  EXPECT_EQ(config->block_size, 65536u);
  EXPECT_EQ(config->block_timeout_ms, 4u);
  EXPECT_FALSE(config->qdisc_bypass);
}

TEST(AfPacketSpec, RefusesUnknownParametersAndVersions) {
  EXPECT_THAT(error_of("afpacket:veth0?queue=0"), HasSubstr("unknown parameter 'queue' for afpacket"));
  EXPECT_THAT(error_of("afpacket:veth0?version=1"), HasSubstr("version=1 is not allowed (choose one of: 2, 3)"));
  EXPECT_THAT(error_of("afpacket:veth0?block_timeout_ms=2"), HasSubstr("block_timeout_ms applies to version=3 only"));
  EXPECT_THAT(error_of("afpacket:veth0?qdisc_bypass=maybe"), HasSubstr("qdisc_bypass=maybe is not a boolean"));
}

TEST(AfPacketSpec, RefusesBadInterfaceNames) {
  EXPECT_THAT(error_of("afpacket:a-name-far-too-long0"), HasSubstr("'a-name-far-too-long0' is not an interface name"));
  EXPECT_THAT(error_of("afpacket:../eth0"), HasSubstr("is not an interface name"));
}

TEST(AfPacketSpec, RefusesRingGeometryTheKernelWouldRefuse) {
  EXPECT_THAT(error_of("afpacket:veth0?frame_size=2050"), HasSubstr("frame_size=2050 must be a multiple of 16"));
  EXPECT_THAT(error_of("afpacket:veth0?frame_size=64"), HasSubstr("frame_size=64 is not a whole number from 128"));
  const std::string page = std::to_string(sysconf(_SC_PAGESIZE));
  EXPECT_THAT(error_of("afpacket:veth0?block_size=5000"),
              HasSubstr("block_size=5000 must be a multiple of the page size (" + page + ")"));
  EXPECT_THAT(error_of("afpacket:veth0?frame_size=8192&block_size=4096"), HasSubstr("at least frame_size=8192"));
  EXPECT_THAT(error_of("afpacket:veth0?frames=100"),
              HasSubstr("frames=100 must fill whole blocks of block_size/frame_size = 262144/2048 = 128 frames"));
}

}  // namespace
}  // namespace aether::backends
