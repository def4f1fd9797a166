// `aether bench latency --vs-dpdk`: the memif round trip with real DPDK
// 22.11 in each role (testpmd macswap answering Aether's generator; the
// DPDK pinger against Aether's echo; DPDK on both ends), in one run. No
// timing is asserted: the rows, their replies, the comparison section, and
// that a DPDK peer that crashes is a row with its error, not the end of the
// bench.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "aether/measure/testpmd_process.hpp"
#include "run_command.hpp"

namespace aether::test {
namespace {

const std::string aether = AETHER_CLI_PATH;

#define SKIP_WITHOUT_DPDK_AND_ROOT()                                                                  \
  do {                                                                                                \
    if (geteuid() != 0) GTEST_SKIP() << "needs root: memif sockets are fine, but testpmd's EAL is not"; \
    if (const std::string problem = measure::TestpmdProcess::missing_memif_support(); !problem.empty()) { \
      GTEST_SKIP() << "\n*** DPDK LATENCY NOT TESTED: " << problem << " ***\n";                      \
    }                                                                                                 \
  } while (false)

// The number of replies in the row named `name` (path p50 p99 p99.9 p99.99 max lost replies ...).
long replies_of(const std::string& table, const std::string& name) {
  const std::regex row("\n" + std::regex_replace(name, std::regex(R"([>])"), R"(\>)") + R"( +(\S+ \S+ +){5}(\d+) +(\d+) )");
  std::smatch match;
  if (!std::regex_search(table, match, row)) return -1;
  return std::stol(match[3]);
}

TEST(BenchVsDpdk, EveryRoleIsMeasuredInOneRun) {
  SKIP_WITHOUT_DPDK_AND_ROOT();
  const auto run = run_command(aether + " bench latency --backends memif --vs-dpdk --rate 0 --probes 2000 --warmup 200 "
                                        "--ring-messages 0");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  for (const char* row : {"memif", "memif aether>testpmd", "memif dpdk>aether", "memif dpdk>testpmd"}) {
    EXPECT_GE(replies_of(run.out, row), 2000) << row << "\n" << run.out;
  }
  EXPECT_NE(run.out.find("memif against DPDK 22.11"), std::string::npos) << run.out;
  for (const char* role : {"generator ", "responder ", "both ends "}) {
    const auto at = run.out.find("  " + std::string(role));
    ASSERT_NE(at, std::string::npos) << role << "\n" << run.out;
    const std::string line = run.out.substr(at, run.out.find('\n', at) - at);
    EXPECT_TRUE(line.find("lower") != std::string::npos || line.find("higher") != std::string::npos ||
                line.find("same") != std::string::npos)
        << line;
  }
}

TEST(BenchVsDpdk, ACrashingDpdkGeneratorIsARowWithItsSignal) {
  SKIP_WITHOUT_DPDK_AND_ROOT();
  char dir[] = "/tmp/aether-crashing-pinger-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string fake = std::string(dir) + "/pinger";
  {
    std::ofstream script(fake);
    script << "#!/bin/sh\necho 'pinger: about to crash'\nkill -SEGV $$\n";
  }
  ::chmod(fake.c_str(), 0755);
  const auto run = run_command("AETHER_DPDK_PINGER=" + fake + " " + aether +
                               " bench latency --backends memif --vs-dpdk --rate 0 --probes 500 --warmup 50 "
                               "--ring-messages 0");
  ::unlink(fake.c_str());
  ::rmdir(dir);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("memif dpdk>aether"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("not measured: aether-dpdk-pinger killed by signal 11"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("pinger: about to crash"), std::string::npos) << "its last output: " << run.out;
  EXPECT_GE(replies_of(run.out, "memif aether>testpmd"), 500) << "the other rows still ran:\n" << run.out;
}

TEST(BenchVsDpdk, NeedsTheMemifPath) {
  const auto run = run_command(aether + " bench latency --backends udp --vs-dpdk");
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_NE(run.err.find("add memif to --backends"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace aether::test
