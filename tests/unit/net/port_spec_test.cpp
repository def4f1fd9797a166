#include "aether/net/port_spec.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "aether/net/port_registry.hpp"

namespace aether::net {
namespace {

TEST(PortSpec, SplitsKindTargetAndParameters) {
  auto spec = parse_port_spec("afxdp:veth0?queue=0&mode=native&busy_poll=1");
  ASSERT_TRUE(spec.ok()) << spec.error().describe();
  EXPECT_EQ(spec->kind, "afxdp");
  EXPECT_EQ(spec->target, "veth0");
  EXPECT_EQ(spec->parameters.size(), 3u);
  EXPECT_EQ(*spec->find("mode"), "native");
  EXPECT_TRUE(*spec->get_bool("busy_poll", false));
  EXPECT_EQ(*spec->get_unsigned("queue", 7, 0, 63), 0u);
  EXPECT_EQ(*spec->get_unsigned("absent", 7, 0, 63), 7u);
}

TEST(PortSpec, TargetMayContainColons) {
  auto udp = parse_port_spec("udp:10.9.0.1:9000");
  ASSERT_TRUE(udp.ok());
  EXPECT_EQ(udp->target, "10.9.0.1:9000");
  auto vfio = parse_port_spec("vfio:0000:00:03.0");
  ASSERT_TRUE(vfio.ok());
  EXPECT_EQ(vfio->target, "0000:00:03.0");
}

TEST(PortSpec, ErrorsSayWhichPartIsWrong) {
  // The kind is the registry's to check (its table is the one list).
  auto unknown = check_port_spec("dpdk:eth0");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown kind 'dpdk'"), std::string::npos);
  EXPECT_NE(unknown.error().message.find("afxdp"), std::string::npos);  // lists the known kinds
  const auto kinds = port_kinds();
  ASSERT_EQ(kinds.size(), describe_backends().size());
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "memif"), kinds.end());

  EXPECT_FALSE(parse_port_spec("veth0").ok());
  EXPECT_FALSE(parse_port_spec("afpacket:").ok());
  EXPECT_FALSE(parse_port_spec("afpacket:veth0?queue").ok());
  EXPECT_FALSE(parse_port_spec("afpacket:veth0?a=1&a=2").ok());

  auto spec = parse_port_spec("afxdp:veth0?queue=x&mode=fast&mod=1");
  ASSERT_TRUE(spec.ok());
  auto queue = spec->get_unsigned("queue", 0, 0, 63);
  ASSERT_FALSE(queue.ok());
  EXPECT_NE(queue.error().message.find("queue=x"), std::string::npos);
  auto mode = spec->get_choice("mode", "auto", {"auto", "native", "generic"});
  ASSERT_FALSE(mode.ok());
  EXPECT_NE(mode.error().message.find("native"), std::string::npos);
  auto keys = spec->check_keys({"queue", "mode"});
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.error().message.find("'mod'"), std::string::npos);
}

TEST(PortSpec, RangeChecksNumbers) {
  auto spec = parse_port_spec("afxdp:veth0?queue=64");
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(spec->get_unsigned("queue", 0, 0, 63).ok());
}

}  // namespace
}  // namespace aether::net
