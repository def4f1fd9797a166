// CPU accounting of a benchmark window: the parsers on the kernel's text
// formats (proc(5)), and a real snapshot of this process naming a thread
// that spun in the window.
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aether/measure/comparison.hpp"
#include "aether/measure/cpu_accounting.hpp"

namespace aether::measure {
namespace {

TEST(CpuAccountingParsers, ReadTheKernelsFormats) {
  const auto schedstat = parse_schedstat("1376287 33112856 2\n");
  ASSERT_TRUE(schedstat);
  EXPECT_EQ(schedstat->first, 1376287u);
  EXPECT_EQ(schedstat->second, 33112856u);
  EXPECT_FALSE(parse_schedstat("12\n"));
  EXPECT_FALSE(parse_schedstat(""));

  const std::string status = "Name:\taether-send\nvoluntary_ctxt_switches:\t7\nnonvoluntary_ctxt_switches:\t130\n";
  EXPECT_EQ(parse_status_value(status, "voluntary_ctxt_switches"), 7u);
  EXPECT_EQ(parse_status_value(status, "nonvoluntary_ctxt_switches"), 130u);
  EXPECT_FALSE(parse_status_value(status, "ctxt_switches"));

  // The comm may hold spaces and ')': fields are counted after the last ')'.
  std::string stat = "4242 (a) b) c) R";
  for (int field = 4; field <= 38; ++field) stat += " " + std::to_string(field);
  EXPECT_EQ(parse_stat_last_cpu(stat + " 1 0 0\n"), 1);
  EXPECT_FALSE(parse_stat_last_cpu("4242 (x) R 1 2"));

  const auto cpus = parse_proc_stat_cpus(
      "cpu  3673305 136186 448392 807333 3153 0 4931 5339 0 0\n"
      "cpu0 10 1 2 100 3 4 5 6 0 0\n"
      "cpu1 20 0 0 50 0 0 0 9 0 0\n"
      "cpu2 broken\n"
      "intr 1 2 3\n");
  ASSERT_EQ(cpus.size(), 2u);
  EXPECT_EQ(cpus[0].cpu, 0u);
  EXPECT_EQ(cpus[0].busy, 10u + 1 + 2 + 4 + 5);
  EXPECT_EQ(cpus[0].idle, 103u);
  EXPECT_EQ(cpus[0].steal, 6u);
  EXPECT_EQ(cpus[1].busy, 20u);
}

TEST(CpuAccounting, NamesTheThreadThatRanInTheWindow) {
  const pid_t self[] = {::getpid()};
  std::atomic<bool> stop{false};
  std::atomic<bool> named{false};
  std::thread spinner([&] {
    pthread_setname_np(pthread_self(), "acct-spinner");
    named.store(true);
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  while (!named.load()) std::this_thread::yield();
  const CpuSnapshot before = take_cpu_snapshot(self);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const CpuSnapshot after = take_cpu_snapshot(self);
  stop.store(true);
  spinner.join();
  ASSERT_FALSE(after.cpus.empty()) << "no cpuN line read from /proc/stat";
  const unsigned cpus[] = {after.cpus.front().cpu};
  const CpuAccounting accounting = account_cpu_time(before, after, cpus);
  const ThreadUsage* spinner_usage = accounting.thread("acct-spinner");
  ASSERT_NE(spinner_usage, nullptr) << "the spinning thread is missing from the accounting";
  EXPECT_GT(spinner_usage->run_ns, 0u);
  EXPECT_GT(accounting.seconds, 0.0);
  ASSERT_EQ(accounting.cpus.size(), 1u);
  const auto json = cpu_accounting_to_json(accounting);
  EXPECT_TRUE(json.contains("threads"));
  EXPECT_EQ(json["cpus"].size(), 1u);
}

TEST(Spread, MedianAndRangeOfRuns) {
  const Spread odd = spread_of({3.0, 1.0, 2.0});
  EXPECT_DOUBLE_EQ(odd.median, 2.0);
  EXPECT_DOUBLE_EQ(odd.min, 1.0);
  EXPECT_DOUBLE_EQ(odd.max, 3.0);
  EXPECT_EQ(odd.runs, 3u);
  EXPECT_DOUBLE_EQ(spread_of({4.0, 1.0, 2.0, 3.0}).median, 2.5);
  EXPECT_EQ(format_spread(spread_of({1.0, 2.0, 4.0}), 1), "2.0 [1.0..4.0]");
  EXPECT_EQ(format_spread(spread_of({}), 1), "-");
}

}  // namespace
}  // namespace aether::measure
