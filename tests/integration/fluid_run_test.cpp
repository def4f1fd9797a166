// `aether fluid run` end to end: the real telemetry, policy, governor and
// actuator on `aether fluid workload` in a test-made v1 cpuset: it grows on
// the busy phase and shrinks on the idle one; SIGINT stops it with the
// journal complete and revertable; bad input is named. Root only.
#include <gtest/gtest.h>

#if !defined(AETHER_HAVE_FLUID)

TEST(FluidRunCli, ModuleBuilt) { GTEST_SKIP() << "SKIPPED LOUDLY: this build has no fluid module"; }

#else

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aether/core/cpu_list.hpp"
#include "run_command.hpp"
#include "test_cpuset.hpp"

namespace aether::fluid {
namespace {

using test::read_trimmed_file;
using test::run_command;
using test::TestCpuset;

const std::string cli = AETHER_CLI_PATH;

#define REQUIRE_V1_CPUSET()                                                              \
  if (const auto why = test::v1_cpuset_unusable()) GTEST_SKIP() << "SKIPPED LOUDLY: " << *why

struct RunFiles {
  std::filesystem::path directory =
      std::filesystem::path("/tmp") / ("aether-fluid-run-" + std::to_string(::getpid()));
  std::filesystem::path policy = directory / "policy.toml";
  std::filesystem::path journal = directory / "journal" / "fluid.journal";
  std::filesystem::path log = directory / "decisions.jsonl";
  RunFiles() {
    std::filesystem::create_directories(directory);
    std::ofstream(policy) << R"(goal = "latency"
interval_ms = 100
[resize]
floor = 1
ceiling = 2
grow_after = 1
shrink_after = 3
min_dwell_ms = 200
max_resizes = 10
rate_window_ms = 1000
[phases]
idle = 1
compute = 2
default = 1
)";
  }
  ~RunFiles() { std::filesystem::remove_all(directory); }
};

std::vector<unsigned> two_cpus() {
  auto cpus = parse_cpu_list(read_trimmed_file(std::string(test::v1_cpuset_root) + "/cpuset.effective_cpus"));
  return {(*cpus)[cpus->size() - 2], cpus->back()};
}

// A shell line that starts `aether fluid workload --phases PHASES` in the
// cpuset, in the background.
std::string workload_in(const TestCpuset& cpuset, const std::string& phases) {
  return "sh -c 'echo $$ > " + cpuset.path().native() + "/cgroup.procs && exec " + cli + " fluid workload --phases " +
         phases + " >/dev/null' &";
}

std::string fluid_run(const RunFiles& files, const TestCpuset& cpuset, const std::vector<unsigned>& pool) {
  return cli + " fluid run --policy " + files.policy.native() + " --cgroup " + cpuset.path().native() + " --cpus " +
         format_cpu_list(pool) + " --journal " + files.journal.native();
}

std::vector<nlohmann::json> read_log(const std::filesystem::path& path) {
  std::vector<nlohmann::json> entries;
  std::ifstream lines(path);
  for (std::string line; std::getline(lines, line);) entries.push_back(nlohmann::json::parse(line));
  return entries;
}

TEST(FluidRunCli, GrowsOnTheBusyPhaseAndShrinksOnIdle) {
  REQUIRE_V1_CPUSET();
  const auto pool = two_cpus();
  TestCpuset cpuset("run", std::to_string(pool[1]));
  RunFiles files;
  const auto result = run_command(workload_in(cpuset, "idle:2,compute:2,idle:2") + " sleep 0.3; " +
                                  fluid_run(files, cpuset, pool) + " --log " + files.log.native() +
                                  "; rc=$?; wait; exit $rc");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  // The workload's exit ends the run: seen by the watch, or by the resize that raced with it.
  EXPECT_TRUE(result.err.find("has no process left") != std::string::npos ||
              result.err.find("has no task left (its application exited)") != std::string::npos)
      << result.err;
  const auto entries = read_log(files.log);
  ASSERT_GT(entries.size(), 10u) << result.out;
  std::size_t grew_at = entries.size();
  std::size_t shrank_at = entries.size();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& entry = entries[i];
    ASSERT_TRUE(entry.contains("features")) << entry.dump();
    EXPECT_TRUE(entry["features"].contains("syscalls")) << entry.dump();
    if (entry["decision"] == "grow" && grew_at == entries.size()) {
      grew_at = i;
      EXPECT_EQ(entry["phase"], "compute") << entry.dump();
      EXPECT_EQ(entry["cpus"], 2) << entry.dump();
      EXPECT_EQ(entry["cpu_list"], format_cpu_list(pool));
      EXPECT_TRUE(entry.contains("actuation")) << entry.dump();
      EXPECT_GT(entry["actuation"]["write_ns"].get<std::int64_t>(), 0);
    }
    if (entry["decision"] == "shrink" && i > grew_at && shrank_at == entries.size()) {
      shrank_at = i;
      EXPECT_EQ(entry["phase"], "idle") << entry.dump();
      EXPECT_EQ(entry["cpus"], 1) << entry.dump();
    }
  }
  EXPECT_LT(grew_at, entries.size()) << "never grew:\n" << result.out;
  EXPECT_LT(shrank_at, entries.size()) << "never shrank after growing:\n" << result.out;
  // The journal is complete and revert restores the cpuset's original CPUs.
  const std::string journal = read_trimmed_file(files.journal);
  EXPECT_TRUE(journal.ends_with("complete")) << journal;
  EXPECT_NE(journal.find("file " + cpuset.path().native() + "/cpuset.cpus =" + std::to_string(pool[1])),
            std::string::npos)
      << journal;
  const auto reverted = run_command(cli + " partition revert --journal " + files.journal.native());
  EXPECT_EQ(reverted.exit_code, 0) << reverted.out << reverted.err;
  EXPECT_EQ(cpuset.cpus(), std::to_string(pool[1]));
}

TEST(FluidRunCli, SigintStopsCleanlyWithTheJournalComplete) {
  REQUIRE_V1_CPUSET();
  const auto pool = two_cpus();
  TestCpuset cpuset("sigint", std::to_string(pool[1]));
  RunFiles files;
  const auto result = run_command(workload_in(cpuset, "compute:30") + " app=$!; sleep 0.3; " +
                                  fluid_run(files, cpuset, pool) +
                                  " & run=$!; sleep 1.5; kill -INT $run; wait $run; rc=$?; kill $app; wait; exit $rc");
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.err.find("Ctrl-C; stopping after"), std::string::npos) << result.err;
  const std::string journal = read_trimmed_file(files.journal);
  EXPECT_TRUE(journal.ends_with("complete")) << journal;
  const auto reverted = run_command(cli + " partition revert --journal " + files.journal.native());
  EXPECT_EQ(reverted.exit_code, 0) << reverted.out << reverted.err;
  EXPECT_EQ(cpuset.cpus(), std::to_string(pool[1]));
}

TEST(FluidRunCli, BadInputIsNamed) {
  REQUIRE_V1_CPUSET();
  RunFiles files;
  std::ofstream(files.directory / "typo.toml") << "goal = \"latency\"\n[resize]\nflor = 1\n";
  const auto typo = run_command(cli + " fluid run --policy " + (files.directory / "typo.toml").native() +
                                " --cgroup /sys/fs/cgroup/cpuset");
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_NE(typo.err.find("typo.toml:3:1: resize.flor: unknown key"), std::string::npos) << typo.err;

  const auto root = run_command(cli + " fluid run --policy " + files.policy.native() + " --cgroup " +
                                test::v1_cpuset_root + " --journal " + files.journal.native());
  EXPECT_EQ(root.exit_code, 1);
  EXPECT_NE(root.err.find("is the root cpuset"), std::string::npos) << root.err;

  const auto missing = run_command(cli + " fluid run --policy " + files.policy.native() +
                                   " --cgroup /sys/fs/cgroup/cpuset/no-such-aether-cpuset --journal " +
                                   files.journal.native());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cgroup /sys/fs/cgroup/cpuset/no-such-aether-cpuset does not exist"), std::string::npos)
      << missing.err;

  const auto no_pid = run_command(cli + " fluid run --policy " + files.policy.native() + " --pid 999999999");
  EXPECT_EQ(no_pid.exit_code, 1);
  EXPECT_NE(no_pid.err.find("pid 999999999 does not exist"), std::string::npos) << no_pid.err;

  const auto neither = run_command(cli + " fluid run --policy " + files.policy.native());
  EXPECT_EQ(neither.exit_code, 1);
  EXPECT_NE(neither.err.find("give --cgroup PATH or --pid N"), std::string::npos) << neither.err;
}

// The bench briefly: every figure present, its own cpuset gone afterwards.
TEST(FluidBench, MeasuresActuationAndSteadyResizesAndCleansUp) {
  REQUIRE_V1_CPUSET();
  RunFiles files;
  const auto json_path = files.directory / "bench.json";
  const auto result =
      run_command(cli + " bench fluid --resizes 6 --steady-intervals 5 --json " + json_path.native());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const auto report = nlohmann::json::parse(test::slurp(json_path));
  EXPECT_EQ(report["actuation"]["resizes"], 6) << report.dump();
  EXPECT_EQ(report["actuation"]["write"]["samples"], 6) << report.dump();
  EXPECT_TRUE(report["actuation"]["threads_running_on_new_cpus"].contains("p99_us")) << report.dump();
  EXPECT_EQ(report["steady_load"]["intervals"], 5) << report.dump();
  EXPECT_TRUE(report["steady_load"].contains("resizes_per_s")) << report.dump();
  EXPECT_TRUE(report["classifier"].contains("unavailable")) << report.dump();  // no --model given
  EXPECT_FALSE(std::filesystem::exists(report["cpuset"].get<std::string>())) << report.dump();
}

}  // namespace
}  // namespace aether::fluid

#endif
