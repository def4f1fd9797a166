// The fluid actuator on the real kernel: a test-made v1 cpuset with a live
// child grows and shrinks; every write is journaled before it is made; kill -9
// at each step of a resize, then `revert`, restores the cpuset; a cgroup that
// disappears and a pid that exits are named. Root and a v1 cpuset hierarchy.
#include <gtest/gtest.h>

#if !defined(AETHER_HAVE_FLUID)

TEST(FluidActuator, ModuleBuilt) { GTEST_SKIP() << "SKIPPED LOUDLY: this build has no fluid module"; }

#else

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "aether/core/cpu_list.hpp"
#include "aether/fluid/actuator.hpp"
#include "aether/partition/revert.hpp"
#include "aether/partition/tasks.hpp"
#include "test_cpuset.hpp"

namespace aether::fluid {
namespace {

using test::read_trimmed_file;
using test::TestCpuset;

#define REQUIRE_V1_CPUSET()                                                              \
  if (const auto why = test::v1_cpuset_unusable()) GTEST_SKIP() << "SKIPPED LOUDLY: " << *why

std::filesystem::path journal_path(const std::string& name) {
  return std::filesystem::path("/tmp") / ("aether-fluid-journal-" + std::to_string(::getpid())) / (name + ".journal");
}

// The pool: the two highest CPUs of the root cpuset, so the child starts on
// the highest one and grows down to the next.
std::vector<unsigned> two_cpus() {
  auto cpus = parse_cpu_list(read_trimmed_file(std::string(test::v1_cpuset_root) + "/cpuset.effective_cpus"));
  return {(*cpus)[cpus->size() - 2], cpus->back()};
}

TEST(FluidActuator, GrowsAndShrinksALiveChildJournalingEachWriteFirst) {
  REQUIRE_V1_CPUSET();
  const auto pool = two_cpus();
  TestCpuset cpuset("grow", std::to_string(pool[1]));
  const pid_t child = cpuset.start_child();
  partition::HostAccess host;
  const auto journal = journal_path("grow");
  std::filesystem::remove(journal);
  unsigned journaled_steps = 0;
  ActuatorConfig config;
  config.cgroup = cpuset.path();
  config.pool = pool;
  config.journal_path = journal;
  config.on_step = [&](std::string_view step) {
    if (step != "journaled") return;
    ++journaled_steps;
    // On disk before the write: the record names the old value, the file still holds it.
    EXPECT_NE(read_trimmed_file(journal).find("file " + cpuset.path().native() + "/cpuset.cpus =" +
                                              std::to_string(pool[1])),
              std::string::npos);
    EXPECT_EQ(cpuset.cpus(), journaled_steps % 2 == 1 ? std::to_string(pool[1]) : format_cpu_list(pool));
  };
  auto actuator = CpusetActuator::open(config, host);
  ASSERT_TRUE(actuator) << actuator.error().describe();
  EXPECT_EQ(actuator->cpus(), std::vector<unsigned>{pool[1]});
  EXPECT_TRUE(actuator->cgroup_v1());

  auto grown = actuator->resize(2);
  ASSERT_TRUE(grown) << grown.error().describe();
  EXPECT_EQ(cpuset.cpus(), format_cpu_list(pool));
  EXPECT_EQ(partition::read_task(host, child)->allowed, pool);
  EXPECT_TRUE(grown->timing.settled);
  EXPECT_GE(grown->timing.threads, 1u);
  EXPECT_GE(grown->timing.running, grown->timing.affinity);

  auto shrunk = actuator->resize(1);
  ASSERT_TRUE(shrunk) << shrunk.error().describe();
  EXPECT_EQ(cpuset.cpus(), std::to_string(pool[1]));
  EXPECT_EQ(partition::read_task(host, child)->allowed, std::vector<unsigned>{pool[1]});
  EXPECT_TRUE(shrunk->timing.settled);
  auto same = actuator->resize(1);  // nothing to do: no write, no record
  ASSERT_TRUE(same) << same.error().describe();
  EXPECT_EQ(journaled_steps, 2u);
  ASSERT_TRUE(actuator->resize(2));
  ASSERT_TRUE(actuator->finish());
  EXPECT_EQ(actuator->journal_path(), journal);

  // The first record counts: revert gives back the value from before the first resize.
  actuator = Error{};
  auto reverted = partition::revert_partition(host, journal);
  ASSERT_TRUE(reverted) << reverted.error().describe();
  EXPECT_TRUE(reverted->failures.empty());
  EXPECT_TRUE(reverted->journal_removed);
  EXPECT_EQ(cpuset.cpus(), std::to_string(pool[1]));
  std::filesystem::remove_all(journal.parent_path());
}

// A child process resizes 1 -> 2 -> 1 -> 2 and stops itself (SIGSTOP) after
// its `stop_at`-th step (0: right after opening the journal); the test kills
// it there with SIGKILL and reverts.
TEST(FluidActuator, KillNineAtEveryStepThenRevertRestoresTheCpuset) {
  REQUIRE_V1_CPUSET();
  const auto pool = two_cpus();
  constexpr int steps = 6;  // journaled/written for the three resizes that write
  for (int stop_at = 0; stop_at <= steps; ++stop_at) {
    SCOPED_TRACE("killed after step " + std::to_string(stop_at));
    TestCpuset cpuset("kill" + std::to_string(stop_at), std::to_string(pool[1]));
    cpuset.start_child();
    const auto journal = journal_path("kill" + std::to_string(stop_at));
    std::filesystem::remove(journal);
    const pid_t actuating = ::fork();
    if (actuating == 0) {
      partition::HostAccess host;
      int done = 0;
      ActuatorConfig config;
      config.cgroup = cpuset.path();
      config.pool = pool;
      config.journal_path = journal;
      config.on_step = [&](std::string_view) {
        if (++done == stop_at) ::raise(SIGSTOP);
      };
      auto actuator = CpusetActuator::open(config, host);
      if (!actuator) ::_exit(2);
      if (stop_at == 0) ::raise(SIGSTOP);
      for (unsigned size : {2u, 1u, 2u}) {
        if (!actuator->resize(size)) ::_exit(3);
      }
      ::raise(SIGSTOP);  // past the last step: killed here too
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(actuating, &status, WUNTRACED), actuating);
    ASSERT_TRUE(WIFSTOPPED(status)) << "the actuating child ended with status " << status;
    ::kill(actuating, SIGKILL);
    ::waitpid(actuating, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));

    partition::HostAccess host;
    auto reverted = partition::revert_partition(host, journal);
    ASSERT_TRUE(reverted) << reverted.error().describe();
    EXPECT_TRUE(reverted->failures.empty());
    EXPECT_EQ(cpuset.cpus(), std::to_string(pool[1]));
    EXPECT_FALSE(std::filesystem::exists(journal));
  }
  std::filesystem::remove_all(journal_path("x").parent_path());
}

TEST(FluidActuator, ACgroupThatDisappearsAndAPidThatExitsAreNamed) {
  REQUIRE_V1_CPUSET();
  const auto pool = two_cpus();
  partition::HostAccess host;
  const auto journal = journal_path("gone");
  std::filesystem::remove(journal);
  auto cpuset = std::make_unique<TestCpuset>("gone", std::to_string(pool[1]));
  const pid_t child = cpuset->start_child();
  auto where = cpuset_cgroup_of(host, child);
  ASSERT_TRUE(where) << where.error().describe();
  EXPECT_EQ(*where, cpuset->path().native());

  ActuatorConfig config;
  config.cgroup = cpuset->path();
  config.pool = pool;
  config.journal_path = journal;
  {
    auto actuator = CpusetActuator::open(config, host);
    ASSERT_TRUE(actuator) << actuator.error().describe();
    cpuset->stop_children();  // the application exits
    auto resized = actuator->resize(2);
    ASSERT_FALSE(resized);
    EXPECT_EQ(resized.error().code.value(), ESRCH);
    EXPECT_EQ(resized.error().message, "cgroup " + cpuset->path().native() + " has no task left (its application exited)");

    const std::string path = cpuset->path();
    cpuset.reset();  // the cgroup disappears
    resized = actuator->resize(1);
    ASSERT_FALSE(resized);
    EXPECT_EQ(resized.error().code.value(), ENOENT);
    EXPECT_EQ(resized.error().message, "cgroup " + path + " disappeared");
  }
  auto gone = CpusetActuator::open(config, host);
  ASSERT_FALSE(gone);
  EXPECT_NE(gone.error().message.find("does not exist"), std::string::npos) << gone.error().message;

  auto no_pid = cpuset_cgroup_of(host, 999'999'999);
  ASSERT_FALSE(no_pid);
  EXPECT_EQ(no_pid.error().code.value(), ESRCH);
  EXPECT_EQ(no_pid.error().message, "pid 999999999 does not exist");

  config.cgroup = test::v1_cpuset_root;
  auto root = CpusetActuator::open(config, host);
  ASSERT_FALSE(root);
  EXPECT_NE(root.error().message.find("is the root cpuset"), std::string::npos) << root.error().message;

  TestCpuset narrow("narrow", std::to_string(pool[1]));
  config.cgroup = narrow.path();
  config.pool = {4095};
  auto outside = CpusetActuator::open(config, host);
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().message.find("CPU 4095 of the pool 4095 is not in the parent cpuset"), std::string::npos)
      << outside.error().message;
  std::filesystem::remove_all(journal.parent_path());
}

}  // namespace
}  // namespace aether::fluid

#endif
