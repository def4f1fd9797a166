// `aether feed replay` and `aether feed handle` as two processes over a real
// port: the publisher leaves out every 20th data packet, the handler detects
// each gap, asks the publisher's request server, and ends with the book of
// the whole day (the same digest as the publisher's); every frame is
// accounted for on both sides.
#include <gtest/gtest.h>

#include <regex>

#include "aether/net/network_namespace.hpp"
#include "run_command.hpp"

namespace aether::test {
namespace {

const std::string aether = AETHER_CLI_PATH;
const std::string day = " --messages 30000 --symbols 200 --seed 7";

// The first number after `label` in `text` (-1 if absent).
long long number_after(const std::string& text, const std::string& label) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(label + "\\s*(\\d+)"))) return -1;
  return std::stoll(match[1]);
}

std::string digest_in(const std::string& text) {
  std::smatch match;
  return std::regex_search(text, match, std::regex("digest (0x[0-9a-f]+)")) ? std::string(match[1]) : "none";
}

struct PairRun {
  CommandOutput handler, publisher;
};

// The handler (in the background) and the publisher, each on its own CPU;
// each waits for its port's link, so either may be the memif server.
PairRun run_pair(const std::string& handler_args, const std::string& publisher_args) {
  const std::string dir = testing::TempDir();
  const std::string handler_out = dir + "aether_feed_handler.out", handler_err = dir + "aether_feed_handler.err";
  auto publisher = run_command(aether + " feed handle --cpu 1 " + handler_args + " >" + handler_out + " 2>" +
                               handler_err + " & handler=$!; sleep 0.3; " + aether + " feed replay --cpu 0 " +
                               publisher_args + day + "; status=$?; wait $handler; echo \"handler exit $?\" >>" +
                               handler_out + "; exit $status");
  PairRun run;
  run.publisher = publisher;
  run.handler.out = slurp(handler_out);
  run.handler.err = slurp(handler_err);
  run.handler.exit_code = static_cast<int>(number_after(run.handler.out, "handler exit"));
  std::remove(handler_out.c_str());
  std::remove(handler_err.c_str());
  return run;
}

void expect_every_gap_recovered(const PairRun& run) {
  const std::string& handler = run.handler.out;
  const std::string& publisher = run.publisher.out;
  ASSERT_EQ(run.publisher.exit_code, 0) << publisher << run.publisher.err;
  ASSERT_EQ(run.handler.exit_code, 0) << handler << run.handler.err;
  EXPECT_NE(handler.find("day complete: yes; gap open: no"), std::string::npos) << handler;
  const long long skipped = number_after(publisher, "left out");
  const long long skipped_messages = number_after(publisher, "left out \\d+ packets \\(");
  ASSERT_GT(skipped, 50) << publisher;
  const long long kernel_drops = number_after(handler, "kernel");
  // Each left-out packet is a gap of its own (never two in a row); a
  // packet the kernel dropped besides can only add gaps or join two.
  const long long missed = number_after(handler, "gaps \\d+ \\(");
  if (kernel_drops == 0) {
    EXPECT_EQ(number_after(handler, "gaps"), skipped) << handler;
    EXPECT_EQ(missed, skipped_messages) << handler;
  }
  EXPECT_GE(missed, skipped_messages) << handler;
  EXPECT_EQ(number_after(handler, "recovered: \\d+ times,"), missed) << "every missed message came back\n" << handler;
  EXPECT_EQ(number_after(handler, "messages applied"), 30000) << handler;
  EXPECT_EQ(digest_in(handler), digest_in(publisher)) << "the handler's book after recovery is the whole day's\n"
                                                      << handler << publisher;
  // rx = tx + counted drops: every request the handler sent reached the
  // request server and was answered; every order sent was received.
  EXPECT_EQ(number_after(handler, "requests sent"), number_after(publisher, "requests")) << handler << publisher;
  EXPECT_EQ(number_after(publisher, "answered"), number_after(publisher, "requests"));
  EXPECT_EQ(number_after(handler, "orders sent"), number_after(publisher, "orders received")) << handler << publisher;
  // (How many orders there are depends on how long gaps stay open: none
  // are sent while one is, and on a loaded host that can be most of the
  // day. The unit tests check the orders themselves.)
}

TEST(FeedReplay, KernelUdpOnLoopbackRecoversEveryInjectedGap) {
  const PairRun run = run_pair("--port udp:127.0.0.1:26471 --group none",
                           "--port udp:127.0.0.1:0 --group 127.0.0.1:26471 --rate 50000 --gap-every 20");
  expect_every_gap_recovered(run);
}

// The feed as a subscriber gets it: the handler binds 0.0.0.0 and joins the
// group on `interface=` through Port::join_multicast (IP_ADD_MEMBERSHIP);
// the publisher sends to the group. In a network namespace the test made
// (its loopback with multicast on), never the host's.
TEST(FeedReplay, KernelUdpMulticastJoinedThroughThePortRecoversEveryInjectedGap) {
  auto namespace_made = net::NetworkNamespace::create();
  ASSERT_TRUE(namespace_made) << namespace_made.error().describe();
  auto multicast_on = namespace_made->run_ip({"link", "set", "lo", "multicast", "on"});
  ASSERT_TRUE(multicast_on) << multicast_on.error().describe();
  auto inside = net::ScopedNamespace::enter(*namespace_made);  // the commands below start in it
  ASSERT_TRUE(inside) << inside.error().describe();
  const PairRun run = run_pair("--port 'udp:0.0.0.0:26472?interface=lo' --group 239.54.12.111",
                               "--port 'udp:127.0.0.1:0?interface=lo' --group 239.54.12.111:26472 --rate 50000 --gap-every 20");
  EXPECT_EQ(run.handler.err.find("not joined"), std::string::npos) << run.handler.err;
  expect_every_gap_recovered(run);
}

TEST(FeedReplay, MemifRecoversEveryInjectedGap) {
  const PairRun run = run_pair("--port 'memif:@aether-feed-test?role=client'",
                           "--port 'memif:@aether-feed-test?role=server' --rate 50000 --gap-every 20");
  expect_every_gap_recovered(run);
}

TEST(FeedReplay, RefusesABadRateOrGroupByName) {
  auto result = run_command(aether + " feed replay --port udp:127.0.0.1:0 --rate fast");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("--rate fast"), std::string::npos) << result.err;
  result = run_command(aether + " feed replay --port udp:127.0.0.1:0 --group 239.1.1.1");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("--group 239.1.1.1"), std::string::npos) << result.err;
  result = run_command(aether + " feed handle --port udp:127.0.0.1:0 --group nowhere");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("--group nowhere"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace aether::test
