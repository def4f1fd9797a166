// The benchmark tables must not mislead: a path that cannot keep up with the
// offered rate is marked in its own row (and, asked to, measured again at a
// rate it sustains); --fifo refuses to measure through RT throttling's
// once-a-second stop unless told to. No timing is asserted.
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "run_command.hpp"

namespace aether::test {
namespace {

const std::string aether = AETHER_CLI_PATH;

bool rt_throttling_on() {
  std::ifstream file("/proc/sys/kernel/sched_rt_runtime_us");
  long value = -1;
  return file >> value && value != -1;
}

TEST(BenchHonesty, FifoRefusesToRunThroughRtThrottling) {
  if (!rt_throttling_on()) GTEST_SKIP() << "RT throttling is off on this host: nothing to refuse";
  for (const std::string command : {"bench latency --backends udp", "bench throughput --backends udp"}) {
    const auto run = run_command(aether + " " + command + " --fifo 50 --seconds 0.1");
    EXPECT_EQ(run.exit_code, 1) << command << "\n" << run.out << run.err;
    EXPECT_NE(run.err.find("RT throttling on (kernel.sched_rt_runtime_us = "), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("--allow-rt-throttling"), std::string::npos) << run.err;
    EXPECT_EQ(run.out.find("p99.9"), std::string::npos) << "nothing may be measured: " << run.out;
  }
}

TEST(BenchHonesty, AnOverloadedPathIsMarkedInItsRowAndMeasuredAgainAtARateItSustains) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces and a veth pair";
  // Kernel UDP with a sleeping responder cannot answer 2 million probes a
  // second on any machine this runs on: its row must say so.
  const auto run = run_command(aether +
                               " bench latency --backends udp-block --rate 2000000 --seconds 0.02 --warmup 100 "
                               "--ring-messages 0 --rerun-overloaded");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  std::string row;
  for (std::size_t at = 0; (at = run.out.find("\nudp-block ", at)) != std::string::npos; ++at) {
    row = run.out.substr(at + 1, run.out.find('\n', at + 1) - at - 1);
    break;
  }
  EXPECT_NE(row.find("OVERLOADED: sustained "), std::string::npos) << run.out;
  EXPECT_NE(row.find(" of 2M/s"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\nudp-block @"), std::string::npos) << "the re-measured row: " << run.out;
  EXPECT_NE(run.err.find("measuring it again at"), std::string::npos) << run.err;
  EXPECT_EQ(run.out.find("0.000x"), std::string::npos) << run.out;
}

}  // namespace
}  // namespace aether::test
