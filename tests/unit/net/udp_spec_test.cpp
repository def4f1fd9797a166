// udp port specs: what parses, what is refused and how the error says so.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/backends/udp_port.hpp"
#include "backend_spec_test_support.hpp"

namespace aether::backends {
namespace {

using ::testing::HasSubstr;

Result<UdpPortConfig> parse(const std::string& text) { return test::parse_backend_spec(&parse_udp_port_config, text); }
std::string error_of(const std::string& text) { return test::backend_spec_error(&parse_udp_port_config, text); }

TEST(UdpSpec, DefaultsAreSpinBatch32WithoutBusyPoll) {
  auto config = parse("udp:10.9.0.1:9000");
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->ip_be, *net::parse_ipv4_be("10.9.0.1"));
  EXPECT_EQ(config->port, 9000);
  EXPECT_EQ(config->wait, UdpWait::spin);
  EXPECT_EQ(config->batch, 32u);
  EXPECT_EQ(config->busy_poll_us, 0u);
}

TEST(UdpSpec, TakesTheMulticastInterface) {
  auto config = parse("udp:0.0.0.0:5000?interface=eth1");
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->interface, "eth1");
  EXPECT_EQ(parse("udp:0.0.0.0:5000")->interface, "");
}

TEST(UdpSpec, TakesEveryParameter) {
  auto config = parse("udp:0.0.0.0:0?busy_poll=50&wait=block&batch=64");
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->ip_be, 0u);
  EXPECT_EQ(config->port, 0);
  EXPECT_EQ(config->busy_poll_us, 50u);
  EXPECT_EQ(config->wait, UdpWait::block);
  EXPECT_EQ(config->batch, 64u);
  EXPECT_EQ(parse("udp:10.9.0.1:65535")->port, 65535);
}

TEST(UdpSpec, RefusesAPortOutOfRange) {
  EXPECT_THAT(error_of("udp:10.9.0.1:65536"), HasSubstr("UDP port '65536' is not a number from 0 to 65535"));
  EXPECT_THAT(error_of("udp:10.9.0.1:-1"), HasSubstr("UDP port '-1'"));
  EXPECT_THAT(error_of("udp:10.9.0.1:90x"), HasSubstr("UDP port '90x'"));
  EXPECT_THAT(error_of("udp:10.9.0.1:"), HasSubstr("UDP port ''"));
}

TEST(UdpSpec, RefusesABadAddress) {
  EXPECT_THAT(error_of("udp:10.9.0.300:9000"), HasSubstr("'10.9.0.300' is not an IPv4 address"));
  EXPECT_THAT(error_of("udp:localhost:9000"), HasSubstr("'localhost' is not an IPv4 address"));
  EXPECT_THAT(error_of("udp:9000"), HasSubstr("target '9000' is not LOCAL_IP:PORT"));
}

TEST(UdpSpec, RefusesUnknownParametersAndBadValues) {
  EXPECT_THAT(error_of("udp:10.9.0.1:9000?queue=1"),
              HasSubstr("unknown parameter 'queue' for udp (allowed: busy_poll, wait, batch, interface)"));
  EXPECT_THAT(error_of("udp:10.9.0.1:9000?wait=sleep"),
              HasSubstr("wait=sleep is not allowed (choose one of: spin, block)"));
  EXPECT_THAT(error_of("udp:10.9.0.1:9000?batch=0"), HasSubstr("batch=0 is not a whole number from 1 to 1024"));
  EXPECT_THAT(error_of("udp:10.9.0.1:9000?busy_poll=fast"), HasSubstr("busy_poll=fast"));
}

TEST(UdpSpec, ErrorsQuoteTheWholeSpec) {
  EXPECT_THAT(error_of("udp:10.9.0.1:99999?batch=8"), HasSubstr("port 'udp:10.9.0.1:99999?batch=8'"));
}

}  // namespace
}  // namespace aether::backends
