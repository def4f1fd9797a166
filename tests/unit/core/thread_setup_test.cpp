#include "aether/core/thread_setup.hpp"

#include <sched.h>

#include <cstdlib>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "temp_tree.hpp"

namespace aether {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Runs `body` on a fresh thread so that pinning or a policy change does not
// leak into the test runner's thread.
template <class Body>
void on_scratch_thread(Body body) {
  std::thread thread(body);
  thread.join();
}

TEST(AllowedCpus, NonEmptyAndSorted) {
  auto cpus = allowed_cpus();
  ASSERT_TRUE(cpus.ok()) << cpus.error().describe();
  ASSERT_FALSE(cpus->empty());
  EXPECT_TRUE(std::is_sorted(cpus->begin(), cpus->end()));
}

TEST(PinCurrentThread, PinsToAnAllowedCpu) {
  on_scratch_thread([] {
    auto cpus = allowed_cpus();
    ASSERT_TRUE(cpus.ok()) << cpus.error().describe();
    const unsigned target = cpus->back();
    auto pinned = pin_current_thread(target);
    ASSERT_TRUE(pinned.ok()) << pinned.error().describe();
    auto now_allowed = allowed_cpus();
    ASSERT_TRUE(now_allowed.ok());
    EXPECT_EQ(*now_allowed, std::vector<unsigned>{target});
    EXPECT_EQ(sched_getcpu(), static_cast<int>(target));
  });
}

TEST(PinCurrentThread, NonexistentCpuIsNamed) {
  on_scratch_thread([] {
    auto pinned = pin_current_thread(4096);
    ASSERT_FALSE(pinned.ok());
    EXPECT_THAT(pinned.error().message, AllOf(HasSubstr("CPU 4096"), HasSubstr("offline or does not exist"),
                                              HasSubstr("allowed CPUs")));
    auto absurd = pin_current_thread(4'000'000'000u);
    ASSERT_FALSE(absurd.ok());
    EXPECT_THAT(absurd.error().message, HasSubstr("CPU 4000000000"));
  });
}

TEST(SetFifoPriority, RejectsOutOfRangePriorities) {
  for (int priority : {0, 100, -1}) {
    auto result = set_fifo_priority(priority);
    ASSERT_FALSE(result.ok()) << priority;
    EXPECT_EQ(result.error().code, std::make_error_code(std::errc::invalid_argument));
    EXPECT_THAT(result.error().message, AllOf(HasSubstr("1..99"), HasSubstr(std::to_string(priority))));
  }
}

TEST(SetFifoPriority, SucceedsOrExplainsThePermission) {
  on_scratch_thread([] {
    auto result = set_fifo_priority(1);
    if (result.ok()) {
      EXPECT_EQ(sched_getscheduler(0), SCHED_FIFO);
    } else {
      EXPECT_THAT(result.error().message, AllOf(HasSubstr("CAP_SYS_NICE"), HasSubstr("sched_rt_runtime_us")));
    }
  });
}

TEST(PrefaultStack, TouchesRequestedAndClampsHugeRequests) {
  on_scratch_thread([] {
    prefault_stack(64 * 1024);
    prefault_stack(0);
    // Far beyond any thread stack: must clamp rather than run off the end.
    prefault_stack(std::size_t{1} << 40);
  });
  prefault_stack();
}

TEST(SetupCurrentCore, PinsAndPrefaultsWithoutLocking) {
  on_scratch_thread([] {
    auto cpus = allowed_cpus();
    ASSERT_TRUE(cpus.ok());
    CoreSetupOptions options;
    options.cpu = cpus->front();
    options.lock_memory = false;
    options.prefault_stack_bytes = 32 * 1024;
    auto setup = setup_current_core(options);
    ASSERT_TRUE(setup.ok()) << setup.error().describe();
    EXPECT_EQ(sched_getcpu(), static_cast<int>(options.cpu));
  });
}

TEST(SetupCurrentCore, StopsAtAPinFailure) {
  on_scratch_thread([] {
    CoreSetupOptions options;
    options.cpu = 4096;
    options.fifo_priority = 0;  // would fail too; pinning must fail first
    auto setup = setup_current_core(options);
    ASSERT_FALSE(setup.ok());
    EXPECT_THAT(setup.error().message, HasSubstr("CPU 4096"));
  });
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// mlockall in a child process (sanitizer shadow memory would make it lock
// terabytes). Either it works (privileged runner) or the error explains the limit.
TEST(LockAllMemory, LocksOrExplainsTheLimitInAChild) {
  EXPECT_EXIT(
      {
        auto locked = lock_all_memory();
        const bool explained = locked.ok() || locked.error().message.find("RLIMIT_MEMLOCK") != std::string::npos;
        std::_Exit(explained ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}
#endif

TEST(ReadRtRuntimeUs, FakeAndRealProc) {
  test::TempTree tree;
  tree.write("proc/sys/kernel/sched_rt_runtime_us", "950000\n");
  auto runtime = read_rt_runtime_us(tree.root() / "proc");
  ASSERT_TRUE(runtime.ok()) << runtime.error().describe();
  EXPECT_EQ(*runtime, 950000);

  tree.write("proc/sys/kernel/sched_rt_runtime_us", "-1\n");
  EXPECT_EQ(*read_rt_runtime_us(tree.root() / "proc"), -1);

  tree.write("proc/sys/kernel/sched_rt_runtime_us", "lots\n");
  auto garbage = read_rt_runtime_us(tree.root() / "proc");
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.error().message, AllOf(HasSubstr("sched_rt_runtime_us"), HasSubstr("\"lots\"")));

  auto missing = read_rt_runtime_us(tree.root() / "nowhere");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("nowhere/sys/kernel/sched_rt_runtime_us"));

  auto real = read_rt_runtime_us();
  if (real.ok()) {
    EXPECT_GE(*real, -1);
  }
}

// As the kernel decides (sched_rt_runtime_exceeded): -1 and a runtime that
// covers the whole period never throttle; anything less does.
TEST(RtThrottling, OnOnlyWhenTheRuntimeIsShorterThanThePeriod) {
  static_assert(rt_throttling_on(950000, 1000000));
  static_assert(rt_throttling_on(0, 1000000));
  static_assert(!rt_throttling_on(-1, 1000000));
  static_assert(!rt_throttling_on(1000000, 1000000));  // Debian sid's 7.x default
  static_assert(!rt_throttling_on(2000000, 1000000));

  test::TempTree tree;
  tree.write("proc/sys/kernel/sched_rt_runtime_us", "1000000\n");
  tree.write("proc/sys/kernel/sched_rt_period_us", "1000000\n");
  auto off = read_rt_bandwidth(tree.root() / "proc");
  ASSERT_TRUE(off.ok()) << off.error().describe();
  EXPECT_FALSE(off->throttling_on());

  tree.write("proc/sys/kernel/sched_rt_period_us", "2000000\n");
  EXPECT_TRUE(read_rt_bandwidth(tree.root() / "proc")->throttling_on());

  tree.write("proc/sys/kernel/sched_rt_runtime_us", "-1\n");
  EXPECT_FALSE(read_rt_bandwidth(tree.root() / "proc")->throttling_on());

  auto missing = read_rt_bandwidth(tree.root() / "nowhere");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("sched_rt_runtime_us"));
}

}  // namespace
}  // namespace aether
