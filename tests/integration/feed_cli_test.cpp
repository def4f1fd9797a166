// `aether feed generate` and `aether feed verify` end to end: the real
// binary writes the same pcap twice for one seed, tshark's moldudp64
// dissector reads every packet of it without complaint, and the fast book
// matches the reference book over it.
#include <gtest/gtest.h>

#include "run_command.hpp"

namespace aether::test {
namespace {

const std::string aether = AETHER_CLI_PATH;

TEST(FeedCli, GenerateIsReproducibleAndVerifiesClean) {
  const std::string first = testing::TempDir() + "aether_feed_a.pcap";
  const std::string second = testing::TempDir() + "aether_feed_b.pcap";
  const std::string options = " --seed 42 --symbols 100 --messages 50000";
  auto result = run_command(aether + " feed generate" + options + " --out " + first);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("50000 messages"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("Add Order"), std::string::npos) << result.out;
  result = run_command(aether + " feed generate" + options + " --out " + second);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(run_command("cmp " + first + " " + second).exit_code, 0) << "same seed, different bytes";

  // Every packet dissected as MoldUDP64, none malformed or with a bad block length.
  result = run_command("tshark -n -r " + first + " -d udp.port==26400,moldudp64 -Y moldudp64 2>/dev/null | wc -l");
  EXPECT_GT(std::stoul(result.out), 1000u);
  result = run_command("tshark -n -r " + first +
                       " -d udp.port==26400,moldudp64 -Y '_ws.malformed || moldudp64.msglen.invalid' 2>/dev/null | wc -l");
  EXPECT_EQ(result.out, "0\n");

  result = run_command(aether + " feed verify --pcap " + first);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("zero divergence"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("50000 messages"), std::string::npos) << result.out;
  std::remove(first.c_str());
  std::remove(second.c_str());
}

TEST(FeedCli, RefusesWhatItCannotGenerateOrRead) {
  auto result = run_command(aether + " feed generate --symbols 1000 --messages 10 --out /tmp/aether_feed_never.pcap");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("--messages 10"), std::string::npos) << result.err;
  EXPECT_NE(run_command("test -e /tmp/aether_feed_never.pcap").exit_code, 0) << "a refused day left a file";
  result = run_command(aether + " feed verify --pcap /nonexistent/day.pcap");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("/nonexistent/day.pcap"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace aether::test
