// `aether ping` and `aether echo --ip` with the kernel's own IP stack as the
// peer, over afpacket on a veth pair between two test-made namespaces. End
// A carries Aether (no kernel address there); end B is the kernel at
// 10.77.0.2, with a UDP echo server on port 7 run by the test.
// - ping: Aether resolves the kernel by ARP, the kernel answers the ICMP
//   echo requests, the test's socket echoes the UDP datagrams.
// - echo --ip: the kernel resolves Aether by ARP (answered by Aether),
//   pings it and talks UDP to it.
// Needs root; skipped otherwise.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <regex>

#include "kernel_peer.hpp"
#include "port_test_support.hpp"
#include "run_command.hpp"

namespace aether::test {
namespace {

using namespace std::chrono_literals;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

constexpr const char* aether_ip = "10.77.0.1";
constexpr const char* kernel_ip = "10.77.0.2";

class KernelPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!running_as_root()) GTEST_SKIP() << "needs root: makes network namespaces, a veth pair and raw sockets";
    net::VethPairConfig config;
    config.kernel_addresses = false;  // A is Aether's; B gets its address below
    auto veth = net::VethPair::create(config);
    ASSERT_TRUE(veth) << veth.error().describe();
    veth_ = std::make_unique<net::VethPair>(std::move(*veth));
    auto added = veth_->namespace_b().run_ip({"addr", "add", std::string(kernel_ip) + "/24", "dev", veth_->end_b().name});
    ASSERT_TRUE(added) << added.error().describe();
  }

  std::string aether_spec() const { return "afpacket:" + veth_->end_a().name; }
  const net::NetworkNamespace& kernel_side() const { return veth_->namespace_b(); }

  std::unique_ptr<net::VethPair> veth_;
};

TEST_F(KernelPeerTest, AetherPingsTheKernel) {
  kernel_peer::UdpEchoServer echo_server(kernel_side(), 7);
  ASSERT_EQ(echo_server.error(), "");
  const std::string log = "/tmp/aether-ping-test.log";
  kernel_peer::ChildInNamespace ping(veth_->namespace_a(),
                                     {AETHER_CLI_PATH, "ping", aether_spec(), "--ip", aether_ip, "--peer", kernel_ip,
                                      "--count", "20", "--udp-port", "7", "--interval-ms", "5"},
                                     log);
  ASSERT_TRUE(ping.started());
  const int status = ping.wait();
  const std::string out = slurp(log);
  std::printf("%s", out.c_str());
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, ContainsRegex("ARP +1 +1 +0  10.77.0.2 is at 02:00:00:ae:00:02")) << out;
  EXPECT_THAT(out, ContainsRegex("ICMP echo +20 +20 +0")) << out;
  EXPECT_THAT(out, ContainsRegex("UDP port 7 +20 +20 +0")) << out;
  EXPECT_THAT(out, HasSubstr("duplicate replies 0")) << out;
  EXPECT_THAT(out, HasSubstr("result: complete")) << out;
  EXPECT_EQ(echo_server.echoed(), 20u);
}

TEST_F(KernelPeerTest, PingReportsAPeerThatDoesNotAnswer) {
  const std::string log = "/tmp/aether-ping-missing-test.log";
  kernel_peer::ChildInNamespace ping(veth_->namespace_a(),
                                     {AETHER_CLI_PATH, "ping", aether_spec(), "--ip", aether_ip, "--peer", "10.77.0.9",
                                      "--count", "3"},
                                     log);
  const int status = ping.wait();
  const std::string out = slurp(log);
  EXPECT_EQ(status, 1) << out;
  EXPECT_THAT(out, ContainsRegex("ARP +3 +0 +3  no reply from 10.77.0.9")) << out;
  EXPECT_THAT(out, HasSubstr("result: INCOMPLETE")) << out;
}

TEST_F(KernelPeerTest, TheKernelPingsAndTalksUdpToAetherEcho) {
  const std::string log = "/tmp/aether-echo-l3-test.log";
  kernel_peer::ChildInNamespace echo(veth_->namespace_a(),
                                     {AETHER_CLI_PATH, "echo", aether_spec(), "--ip", aether_ip}, log);
  ASSERT_TRUE(echo.started());
  // The kernel's first ping waits for its ARP request to be answered by Aether.
  ASSERT_TRUE(kernel_peer::wait_until_pingable(kernel_side(), aether_ip, 10s)) << slurp(log);
  auto pings = kernel_peer::ping(kernel_side(), aether_ip, 20, 5ms, 2s);
  ASSERT_TRUE(pings) << pings.error().describe();
  auto datagrams = kernel_peer::udp_exchange(kernel_side(), aether_ip, 9000, 50, 2ms, 2s);
  ASSERT_TRUE(datagrams) << datagrams.error().describe();
  EXPECT_EQ(echo.interrupt_and_wait(), 0);
  const std::string out = slurp(log);
  std::printf("%s", out.c_str());

  EXPECT_EQ(pings->sent, 20u);
  EXPECT_EQ(pings->replies, 20u);
  EXPECT_EQ(datagrams->sent, 50u);
  EXPECT_EQ(datagrams->replies, 50u);
  EXPECT_THAT(out, HasSubstr("answering ARP and ICMP echo for 10.77.0.1 at 02:00:00:ae:00:01"));
  // At least the first probe, the 20 pings and the 50 datagrams; every
  // frame counted: received = echoed + dropped.
  EXPECT_THAT(out, ContainsRegex("answered: arp [1-9][0-9]*, icmp echo (2[1-9]|[3-9][0-9]), udp 50;")) << out;
  const std::regex total(R"(total: received (\d+), echoed (\d+), dropped (\d+) )");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(out, match, total)) << out;
  EXPECT_EQ(std::stoull(match[1]), std::stoull(match[2]) + std::stoull(match[3])) << "rx = tx + drops";
}

}  // namespace
}  // namespace aether::test
