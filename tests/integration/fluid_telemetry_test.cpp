// The fluid telemetry on the real kernel: the BPF programs load, count a
// child's real syscalls and page faults, ignore unwatched processes, detach
// cleanly; and `aether fluid watch` names bad input. Root only.
#include <gtest/gtest.h>

#if !defined(AETHER_HAVE_FLUID)

TEST(FluidTelemetry, ModuleBuilt) {
  GTEST_SKIP() << "SKIPPED LOUDLY: this build has no fluid module (/sys/kernel/btf/vmlinux, bpftool, clang or libbpf "
                  "missing at configure time; see the CMake output)";
}

#else

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "aether/fluid/telemetry.hpp"
#include "aether/fluid/watch.hpp"
#include "run_command.hpp"

namespace aether::fluid {
namespace {

using test::run_command;

constexpr int calls = 20'000;
constexpr int pages = 1'000;
constexpr int sleeps = 20;
constexpr std::size_t other = static_cast<std::size_t>(SyscallClass::other);
const std::string cli = AETHER_CLI_PATH;

#define REQUIRE_ROOT()                                                                                  \
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: needs root (loads BPF programs)"

// A child that waits for one byte on a pipe, then makes `calls` getppid()
// calls, touches `pages` fresh pages and sleeps `sleeps` times, then exits.
class WorkerChild {
 public:
  WorkerChild() {
    int ends[2];
    if (::pipe(ends) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ends[1]);
      char byte;
      if (::read(ends[0], &byte, 1) != 1) ::_exit(2);
      for (int i = 0; i < calls; ++i) (void)::syscall(SYS_getppid);
      auto* memory = static_cast<volatile char*>(
          ::mmap(nullptr, pages * 4096UL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      for (int i = 0; i < pages; ++i) memory[i * 4096L] = 1;
      for (int i = 0; i < sleeps; ++i) ::usleep(1000);  // each: block (voluntary switch), wake up, wait to run
      ::_exit(0);
    }
    ::close(ends[0]);
    go_fd_ = ends[1];
  }
  ~WorkerChild() {
    if (go_fd_ >= 0) ::close(go_fd_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  [[nodiscard]] pid_t pid() const { return pid_; }
  // Lets it run and waits for it to finish.
  void run_to_exit() {
    char byte = 'g';
    ASSERT_EQ(::write(go_fd_, &byte, 1), 1);
    int status = 0;
    ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pid_ = 0;
  }

 private:
  pid_t pid_ = 0;
  int go_fd_ = -1;
};

TEST(FluidTelemetry, CountsAWatchedChildsRealSyscallsAndPageFaults) {
  REQUIRE_ROOT();
  WorkerChild child;
  auto telemetry = Telemetry::open();
  ASSERT_TRUE(telemetry) << telemetry.error().describe();
  ASSERT_TRUE(telemetry->watch(child.pid()));
  auto before = telemetry->read();
  ASSERT_TRUE(before);
  child.run_to_exit();
  auto after = telemetry->read();
  ASSERT_TRUE(after);
  const CounterSnapshot delta = difference(*after, *before);
  EXPECT_GE(delta.syscalls[other], static_cast<std::uint64_t>(calls));  // getppid is "other"
  EXPECT_LT(delta.syscalls[other], static_cast<std::uint64_t>(calls) + 200);
  EXPECT_GE(delta.user_page_faults, static_cast<std::uint64_t>(pages));
  EXPECT_GE(delta.syscalls[static_cast<std::size_t>(SyscallClass::memory)], 1u);  // the mmap
  EXPECT_GE(delta.syscalls[static_cast<std::size_t>(SyscallClass::sync)], static_cast<std::uint64_t>(sleeps));
  EXPECT_GE(delta.voluntary_switches, static_cast<std::uint64_t>(sleeps));
  EXPECT_GE(delta.runqueue_waits, static_cast<std::uint64_t>(sleeps));  // every wakeup, then on a CPU
  EXPECT_GT(delta.runqueue_wait_ns, 0u);
  // (The pipe read() entered before watch(): sys_enter fires at entry, so it is not counted.)
}

TEST(FluidTelemetry, AnUnwatchedProcessCountsNothing) {
  REQUIRE_ROOT();
  WorkerChild watched;
  WorkerChild unwatched;
  auto telemetry = Telemetry::open();
  ASSERT_TRUE(telemetry) << telemetry.error().describe();
  ASSERT_TRUE(telemetry->watch(watched.pid()));
  auto before = telemetry->read();
  ASSERT_TRUE(before);
  unwatched.run_to_exit();  // 20000 syscalls and 1000 faults nobody watches
  auto after = telemetry->read();
  ASSERT_TRUE(after);
  const CounterSnapshot delta = difference(*after, *before);
  EXPECT_EQ(delta.syscalls[other], 0u);  // the watched child is blocked in read()
  EXPECT_EQ(delta.user_page_faults, 0u);
}

TEST(FluidTelemetry, TheTgidFilterFollowsWatchAndUnwatch) {
  REQUIRE_ROOT();
  WorkerChild first;
  WorkerChild second;
  auto telemetry = Telemetry::open();
  ASSERT_TRUE(telemetry) << telemetry.error().describe();
  ASSERT_TRUE(telemetry->watch(first.pid()));
  ASSERT_TRUE(telemetry->watch(second.pid()));
  ASSERT_TRUE(telemetry->unwatch(second.pid()));
  auto before = telemetry->read();
  ASSERT_TRUE(before);
  second.run_to_exit();
  auto middle = telemetry->read();
  ASSERT_TRUE(middle);
  EXPECT_EQ(difference(*middle, *before).syscalls[other], 0u);
  first.run_to_exit();
  auto after = telemetry->read();
  ASSERT_TRUE(after);
  EXPECT_GE(difference(*after, *middle).syscalls[other], static_cast<std::uint64_t>(calls));
}

// How many BPF links (`bpftool -j link show`) run one of `program_ids`; links
// of other programs (other tests' XDP links) do not count.
int links_of(const std::vector<std::uint32_t>& program_ids) {
  const auto links = nlohmann::json::parse(run_command("bpftool -j link show").out, nullptr, false);
  int count = 0;
  if (!links.is_array()) return -1;
  for (const auto& link : links) {
    const auto id = link.value("prog_id", 0u);
    count += static_cast<int>(std::find(program_ids.begin(), program_ids.end(), id) != program_ids.end());
  }
  return count;
}

TEST(FluidTelemetry, DetachLeavesNoProgramOrLinkBehind) {
  REQUIRE_ROOT();
  std::vector<std::uint32_t> ids;
  {
    auto telemetry = Telemetry::open();
    ASSERT_TRUE(telemetry) << telemetry.error().describe();
    ids = telemetry->program_ids();
    ASSERT_EQ(ids.size(), 7u);
    for (const std::uint32_t id : ids) {
      EXPECT_EQ(run_command("bpftool prog show id " + std::to_string(id)).exit_code, 0) << id;
    }
    EXPECT_EQ(links_of(ids), 7);  // one raw-tracepoint link per program
  }
  // The kernel frees a detached program once the tracepoint's RCU readers
  // are done (deferred work), so allow it a moment.
  const auto any_left = [&ids] {
    for (const std::uint32_t id : ids) {
      if (run_command("bpftool prog show id " + std::to_string(id)).exit_code == 0) return true;
    }
    return false;
  };
  for (int wait = 0; wait < 50 && any_left(); ++wait) ::usleep(100'000);
  for (const std::uint32_t id : ids) {
    EXPECT_NE(run_command("bpftool prog show id " + std::to_string(id)).exit_code, 0) << "program " << id << " left";
  }
  EXPECT_EQ(links_of(ids), 0);
}

TEST(FluidWatchCli, FollowsTheBuiltInWorkloadAndStopsWhenItExits) {
  REQUIRE_ROOT();
  const std::string json_path = "/tmp/aether-fluid-watch-" + std::to_string(::getpid()) + ".json";
  // The watcher starts during the idle second, so the syscall phase is seen whole.
  const auto result = run_command(cli + " fluid workload --phases idle:1,syscall:0.5,faults:0.5 > " + json_path +
                                  ".workload & sleep 0.3; " + cli + " fluid watch --pid $! --interval-ms 100 --json " +
                                  json_path + "; wait");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("exited; stopping"), std::string::npos) << result.err;
  EXPECT_NE(result.out.find("PMU counters (IPC, LLC misses) unavailable:"), std::string::npos) << result.out;
  const std::string workload = test::slurp(json_path + ".workload");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(workload, match, std::regex(R"(phase syscall: (\d+) operations)"))) << workload;
  const std::uint64_t rounds = std::stoull(match[1]);  // each: getppid, write, read
  std::uint64_t getppid_seen = 0, io_seen = 0, faults_seen = 0, softirq_ns = 0;
  std::ifstream lines(json_path);
  std::string line;
  while (std::getline(lines, line)) {
    const auto interval = nlohmann::json::parse(line);
    getppid_seen += interval["syscalls"]["other"].get<std::uint64_t>();
    io_seen += interval["syscalls"]["io"].get<std::uint64_t>();
    faults_seen += interval["user_page_faults"].get<std::uint64_t>();
    softirq_ns += interval["softirq_ns"].get<std::uint64_t>();
    EXPECT_TRUE(interval["pmu"].contains("unavailable") || interval["pmu"].contains("instructions_per_cycle"));
  }
  EXPECT_GE(getppid_seen, rounds);
  EXPECT_GE(io_seen, 2 * rounds);
  ASSERT_TRUE(std::regex_search(workload, match, std::regex(R"(phase faults: (\d+) operations)"))) << workload;
  EXPECT_GE(faults_seen, std::stoull(match[1]));  // one user fault per touched page
  EXPECT_GT(softirq_ns, 0u);                      // 2 s of a 2-CPU host's timer, RCU and scheduler softirqs
  std::filesystem::remove(json_path);
  std::filesystem::remove(json_path + ".workload");
}

TEST(FluidWatchCli, WatchesATestMadeCgroupAndStopsWhenItDisappears) {
  REQUIRE_ROOT();
  // cgroup v1 "pids" hierarchy on this host; a v2-only host has cgroup.procs at the root.
  std::filesystem::path parent = "/sys/fs/cgroup/pids";
  if (!std::filesystem::exists(parent / "cgroup.procs")) parent = "/sys/fs/cgroup";
  const std::filesystem::path cgroup = parent / ("aether-fluid-test-" + std::to_string(::getpid()));
  ASSERT_TRUE(std::filesystem::create_directory(cgroup)) << cgroup;
  const std::string json_path = "/tmp/aether-fluid-cg-" + std::to_string(::getpid()) + ".json";
  // A shell joins the cgroup, runs the workload, then leaves; the cgroup is removed while being watched.
  const auto result = run_command(
      "sh -c 'echo $$ > " + cgroup.native() + "/cgroup.procs && exec " + cli +
      " fluid workload --phases idle:0.5,syscall:0.5 >/dev/null' & sleep 0.2; (sleep 1.6; rmdir " + cgroup.native() +
      ") & " + cli + " fluid watch --cgroup " + cgroup.native() + " --interval-ms 100 --json " + json_path + "; rc=$?; wait; exit $rc");
  std::error_code ignored;
  std::filesystem::remove(cgroup, ignored);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("cgroup " + cgroup.native() + " disappeared"), std::string::npos) << result.err;
  std::uint64_t syscalls = 0;
  std::ifstream lines(json_path);
  std::string line;
  while (std::getline(lines, line)) syscalls += nlohmann::json::parse(line)["syscalls"]["other"].get<std::uint64_t>();
  EXPECT_GT(syscalls, 1000u);  // the syscall phase was seen through the cgroup's pid list
  std::filesystem::remove(json_path);
}

TEST(FluidWatchCli, BadInputGetsAClearError) {
  REQUIRE_ROOT();
  const auto no_pid = run_command(cli + " fluid watch --pid 999999999");
  EXPECT_EQ(no_pid.exit_code, 1);
  EXPECT_NE(no_pid.err.find("pid 999999999 does not exist"), std::string::npos) << no_pid.err;

  const auto no_cgroup = run_command(cli + " fluid watch --cgroup /sys/fs/cgroup/pids/no-such-aether-cgroup");
  EXPECT_EQ(no_cgroup.exit_code, 1);
  EXPECT_NE(no_cgroup.err.find("cgroup /sys/fs/cgroup/pids/no-such-aether-cgroup does not exist"), std::string::npos)
      << no_cgroup.err;

  const auto not_cgroup = run_command(cli + " fluid watch --cgroup /tmp");
  EXPECT_EQ(not_cgroup.exit_code, 1);
  EXPECT_NE(not_cgroup.err.find("no cgroup.procs"), std::string::npos) << not_cgroup.err;

  const auto neither = run_command(cli + " fluid watch");
  EXPECT_NE(neither.exit_code, 0);
  EXPECT_NE(neither.err.find("--pid N or --cgroup PATH"), std::string::npos) << neither.err;

  // Without privileges: name the missing capabilities.
  const auto unprivileged = run_command("setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all " + cli +
                                        " fluid watch --pid 1");
  EXPECT_EQ(unprivileged.exit_code, 1);
  EXPECT_NE(unprivileged.err.find("BPF not permitted"), std::string::npos) << unprivileged.err;
  EXPECT_NE(unprivileged.err.find("CAP_BPF and CAP_PERFMON"), std::string::npos) << unprivileged.err;

  // CAP_BPF alone is not enough: CAP_PERFMON is named.
  const auto bpf_only = run_command("setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,+bpf "
                                    "--ambient-caps=-all,+bpf " + cli + " fluid watch --pid 1");
  EXPECT_EQ(bpf_only.exit_code, 1);
  EXPECT_NE(bpf_only.err.find("lacks CAP_PERFMON"), std::string::npos) << bpf_only.err;
}

TEST(FluidProbeBench, MeasuresBareFluidAndBpftraceInOneRunAndCountsEveryCall) {
  REQUIRE_ROOT();
  const auto tracefs_mounts = [] { return run_command("grep -c ' /sys/kernel/tracing ' /proc/1/mounts || true").out; };
  const std::string mounts_before = tracefs_mounts();
  const auto result = run_command(cli + " bench fluid-probe --calls 20000 --rounds 1");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = nlohmann::json::parse(result.out);
  EXPECT_GT(report["baseline_ns_per_call"]["median"].get<double>(), 0.0);
  EXPECT_GT(report["fluid_ns_per_call"]["median"].get<double>(), 0.0);
  EXPECT_GE(report["fluid_counted_getppid_per_round"][0].get<std::uint64_t>(), 20'000u);  // timing is not asserted
  const auto& bpftrace = report["bpftrace_ns_per_call"];
  if (bpftrace.contains("unavailable")) {
    std::cerr << "bpftrace comparison unavailable: " << bpftrace["unavailable"] << "\n";
  } else {
    EXPECT_GE(bpftrace["counted_getppid"].get<std::uint64_t>(), 20'000u);
  }
  // bpftrace's tracefs mount lived in its own mount namespace only.
  EXPECT_EQ(tracefs_mounts(), mounts_before);
}

}  // namespace
}  // namespace aether::fluid

#endif
