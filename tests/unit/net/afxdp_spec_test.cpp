// afxdp spec parsing: defaults, every key, and refusals that name the bad
// part. Pure logic (parse_afxdp_options touches no system state).
#include <gtest/gtest.h>

#include "aether/backends/afxdp_port.hpp"

namespace aether::backends {
namespace {

Result<AfxdpOptions> parse(std::string_view text) {
  auto spec = net::parse_port_spec(text);
  if (!spec) return std::move(spec).error();
  return parse_afxdp_options(*spec);
}

// The error message of a refused spec ("" if it was accepted).
std::string refusal(std::string_view text) {
  auto options = parse(text);
  return options.ok() ? std::string() : options.error().message;
}

TEST(AfxdpSpec, DefaultsAreAutoModeQueueZeroNoBusyPoll) {
  auto options = parse("afxdp:veth0");
  ASSERT_TRUE(options.ok()) << options.error().describe();
  EXPECT_EQ(options->interface, "veth0");
  EXPECT_EQ(options->queue, 0u);
  EXPECT_EQ(options->mode, XdpAttachMode::automatic);
  EXPECT_EQ(options->zero_copy, ZeroCopyMode::automatic);
  EXPECT_FALSE(options->busy_poll);
  EXPECT_EQ(options->busy_poll_usec, 20u);
  EXPECT_EQ(options->busy_poll_budget, 64u);
  EXPECT_EQ(options->ring_size, 2048u);
}

TEST(AfxdpSpec, WaitBlockAsksForAnInterruptFd) {
  EXPECT_FALSE(parse("afxdp:veth0")->wait_block);
  EXPECT_TRUE(parse("afxdp:veth0?wait=block")->wait_block);
  EXPECT_FALSE(parse("afxdp:veth0?wait=nap").ok());
}

TEST(AfxdpSpec, ReadsEveryKey) {
  auto options = parse(
      "afxdp:enp1s0f0?queue=3&mode=native&zero_copy=on&busy_poll=1&busy_poll_usec=50&busy_poll_budget=16"
      "&ring_size=512");
  ASSERT_TRUE(options.ok()) << options.error().describe();
  EXPECT_EQ(options->interface, "enp1s0f0");
  EXPECT_EQ(options->queue, 3u);
  EXPECT_EQ(options->mode, XdpAttachMode::native);
  EXPECT_EQ(options->zero_copy, ZeroCopyMode::on);
  EXPECT_TRUE(options->busy_poll);
  EXPECT_EQ(options->busy_poll_usec, 50u);
  EXPECT_EQ(options->busy_poll_budget, 16u);
  EXPECT_EQ(options->ring_size, 512u);

  auto generic = parse("afxdp:eth0?mode=generic&zero_copy=off&busy_poll=no");
  ASSERT_TRUE(generic.ok()) << generic.error().describe();
  EXPECT_EQ(generic->mode, XdpAttachMode::generic);
  EXPECT_EQ(generic->zero_copy, ZeroCopyMode::off);
  EXPECT_FALSE(generic->busy_poll);
}

TEST(AfxdpSpec, RefusesUnknownKeysListingTheAllowedOnes) {
  const std::string message = refusal("afxdp:eth0?queues=2");
  EXPECT_NE(message.find("'queues'"), std::string::npos) << message;
  EXPECT_NE(message.find("ring_size"), std::string::npos) << message;
}

TEST(AfxdpSpec, RefusesBadValuesNamingKeyAndChoices) {
  std::string message = refusal("afxdp:eth0?mode=driver");
  EXPECT_NE(message.find("mode=driver"), std::string::npos) << message;
  EXPECT_NE(message.find("native"), std::string::npos) << message;

  message = refusal("afxdp:eth0?zero_copy=maybe");
  EXPECT_NE(message.find("zero_copy=maybe"), std::string::npos) << message;

  message = refusal("afxdp:eth0?queue=-1");
  EXPECT_NE(message.find("queue=-1"), std::string::npos) << message;

  message = refusal("afxdp:eth0?busy_poll=2");
  EXPECT_NE(message.find("busy_poll=2"), std::string::npos) << message;
}

TEST(AfxdpSpec, RingSizeMustBeAPowerOfTwoInRange) {
  EXPECT_NE(refusal("afxdp:eth0?ring_size=1000").find("power of two"), std::string::npos);
  EXPECT_NE(refusal("afxdp:eth0?ring_size=32").find("ring_size=32"), std::string::npos);
  EXPECT_NE(refusal("afxdp:eth0?ring_size=32768").find("ring_size=32768"), std::string::npos);
  EXPECT_TRUE(parse("afxdp:eth0?ring_size=64").ok());
  EXPECT_TRUE(parse("afxdp:eth0?ring_size=16384").ok());
}

TEST(AfxdpSpec, RefusesContradictions) {
  const std::string zero_copy = refusal("afxdp:eth0?mode=generic&zero_copy=on");
  EXPECT_NE(zero_copy.find("zero_copy=on"), std::string::npos) << zero_copy;
  EXPECT_NE(zero_copy.find("generic"), std::string::npos) << zero_copy;

  const std::string busy = refusal("afxdp:eth0?busy_poll_usec=50");
  EXPECT_NE(busy.find("busy_poll=1"), std::string::npos) << busy;
}

TEST(AfxdpSpec, RefusesNamesThatCannotBeInterfaces) {
  EXPECT_NE(refusal("afxdp:a-name-longer-than-15").find("not an interface name"), std::string::npos);
  EXPECT_NE(refusal("afxdp:eth/0").find("not an interface name"), std::string::npos);
  EXPECT_FALSE(parse("afxdp:exactly16chars__").ok());  // 16 characters
  EXPECT_TRUE(parse("afxdp:exactly15chars_").ok());
}

TEST(AfxdpSpec, RefusesAnotherKind) {
  auto spec = net::parse_port_spec("afpacket:eth0");
  ASSERT_TRUE(spec.ok());
  auto options = parse_afxdp_options(*spec);
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.error().message.find("not an afxdp spec"), std::string::npos);
}

}  // namespace
}  // namespace aether::backends
