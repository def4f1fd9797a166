// `aether jitter` end to end: the real binary, real pinned threads.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_command.hpp"

namespace aether::test {
namespace {

const std::string aether = AETHER_CLI_PATH;

TEST(JitterCli, JsonReportCoversEachCpuAndAccountsForTheWindow) {
  const auto result = run_command(aether + " jitter --cpus 0 --duration 0.3 --json -");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = nlohmann::json::parse(result.out);
  ASSERT_EQ(report["cpus"].size(), 1u);
  const auto& cpu = report["cpus"][0];
  EXPECT_EQ(cpu["cpu"], 0);
  EXPECT_GT(cpu["measured_ns"].get<std::uint64_t>(), 0u);
  EXPECT_LE(cpu["stolen_ns"].get<std::uint64_t>(), cpu["measured_ns"].get<std::uint64_t>());
  EXPECT_EQ(cpu["interruptions"], cpu["gaps_ns"]["count"]);
  EXPECT_GT(cpu["loop_iterations"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(report["config"]["threshold_ns"], 1000);
}

TEST(JitterCli, TableNamesEveryRequestedCpu) {
  const auto result = run_command(aether + " jitter --duration 0.2");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("interrupts/s"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("p99.99"), std::string::npos);
}

TEST(JitterCli, RefusesACpuThatDoesNotExist) {
  const auto result = run_command(aether + " jitter --cpus 4000 --duration 0.1");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("CPU 4000"), std::string::npos) << result.err;
}

TEST(JitterCli, RefusesAMalformedCpuList) {
  const auto result = run_command(aether + " jitter --cpus 0-x --duration 0.1");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("--cpus"), std::string::npos) << result.err;
}

TEST(JitterCli, RefusesACpuOutsideTheAllowedSet) {
  // taskset narrows the allowed set to CPU 0; asking for CPU 1 must be refused by name.
  if (std::stoi(run_command("nproc").out) < 2) GTEST_SKIP() << "needs 2 allowed CPUs";
  const auto result = run_command("taskset -c 0 " + aether + " jitter --cpus 1 --duration 0.1");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("allowed set"), std::string::npos) << result.err;
}

TEST(JitterCli, HelpDescribesEveryOption) {
  const auto result = run_command(aether + " jitter --help");
  EXPECT_EQ(result.exit_code, 0);
  for (const char* option : {"--cpus", "--duration", "--threshold", "--fifo", "--json"}) {
    EXPECT_NE(result.out.find(option), std::string::npos) << option;
  }
}

}  // namespace
}  // namespace aether::test
