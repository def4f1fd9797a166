// `aether bench latency|throughput --ports A,B`: two ports the user
// connected, here the two ends of a veth pair the test makes inside one
// anonymous network namespace (both ends visible to the one CLI process,
// which runs there through nsenter). No timing is asserted: the row, the
// replies and that (almost) nothing was lost.
#include <unistd.h>

#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "aether/net/network_namespace.hpp"
#include "run_command.hpp"

namespace aether::test {
namespace {

const std::string aether = AETHER_CLI_PATH;

class BenchPorts : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: a network namespace, a veth pair and raw sockets";
    auto ns = net::NetworkNamespace::create();
    ASSERT_TRUE(ns.ok()) << ns.error().describe();
    ns_.emplace(std::move(*ns));
    // No addresses: the kernel stays quiet on both ends (no IPv6 either).
    for (const auto& args : {std::vector<std::string>{"link", "add", "bpa", "type", "veth", "peer", "name", "bpb"},
                             std::vector<std::string>{"link", "set", "bpa", "up"},
                             std::vector<std::string>{"link", "set", "bpb", "up"}}) {
      auto done = ns_->run_ip(args);
      ASSERT_TRUE(done.ok()) << done.error().describe();
    }
  }
  // Runs the CLI inside the namespace.
  CommandOutput run_in_namespace(const std::string& args) {
    return run_command("nsenter --net=" + ns_->path() + " " + aether + " " + args);
  }
  std::optional<net::NetworkNamespace> ns_;
};

TEST_F(BenchPorts, LatencyOverAGivenVethPair) {
  const auto run = run_in_namespace("bench latency --ports afpacket:bpa,afpacket:bpb --rate 2000 --seconds 1 --warmup 200 "
                                    "--ring-messages 1000");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("ring floor"), std::string::npos) << run.out;
  // path p50 p99 p99.9 p99.99 max lost replies ...
  const std::regex row(R"(afpacket:bpa,afpacket:bpb +(\S+ \S+ +){5}(\d+) +(\d+) )");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(run.out, match, row)) << run.out;
  const long lost = std::stol(match[2]);
  const long replies = std::stol(match[3]);
  EXPECT_GT(replies, 0) << run.out;
  // 2000 probes recorded: a veth loses none unless the machine is starved.
  EXPECT_LE(lost, 20) << run.out;
  EXPECT_NE(run.out.find("(responder afpacket:bpb)"), std::string::npos) << run.out;
}

TEST_F(BenchPorts, ThroughputOverAGivenVethPair) {
  const auto run = run_in_namespace("bench throughput --ports afpacket:bpa,afpacket:bpb --seconds 0.5");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_TRUE(std::regex_search(run.out, std::regex("afpacket:bpa,afpacket:bpb +64 +[0-9.]+ +[0-9.]+ "))) << run.out;
}

TEST_F(BenchPorts, ClearErrors) {
  auto run = run_in_namespace("bench latency --ports afpacket:bpa --ring-messages 0");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("--ports: give two port specs SPEC_A,SPEC_B"), std::string::npos) << run.err;
  run = run_in_namespace("bench latency --ports udp:10.0.0.1:9000,afpacket:bpb --ring-messages 0");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("udp ports are addressed by IP and UDP port"), std::string::npos) << run.err;
  // A port that cannot open: the registry's error, and the command fails.
  run = run_in_namespace("bench latency --ports afpacket:bpa,afpacket:nosuch0 --ring-messages 0 --seconds 0.1");
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_NE(run.err.find("--ports: B (responder): "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("no interface 'nosuch0'"), std::string::npos) << run.err;
  run = run_in_namespace("bench throughput --ports afpacket:nosuch0,afpacket:bpb --seconds 0.1");
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_NE(run.err.find("--ports: A (generator): "), std::string::npos) << run.err;
}

}  // namespace
}  // namespace aether::test
