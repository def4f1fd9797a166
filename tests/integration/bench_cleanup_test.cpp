// `aether bench` leaves nothing behind: not when it finishes, not on Ctrl-C,
// not when it is killed with SIGKILL in the middle of a path.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "run_command.hpp"

namespace aether::test {
namespace {

const std::string aether = AETHER_CLI_PATH;

// What a leak would leave: named or bind-mounted network namespaces, loaded
// XDP programs (a leaked namespace keeps its veth and program alive, so a
// leak of any kind shows here), veth links in the root namespace.
struct KernelState {
  std::string namespaces;
  std::string xdp_programs;
  std::string root_links;
  bool operator==(const KernelState&) const = default;
};

KernelState kernel_state() {
  KernelState state;
  state.namespaces = run_command("ip netns list; grep -c nsfs /proc/self/mountinfo || true").out;
  state.xdp_programs = run_command("bpftool prog show 2>/dev/null | grep -c ' xdp ' || true").out;
  state.root_links = run_command("ip -o link show | grep -c aeth || true").out;
  return state;
}

// Starts the bench in its own process group; stdout and stderr to files.
pid_t start_bench(const std::string& args, const std::string& log) {
  // Empty the log before forking: a log left by an earlier run (or the
  // previous path) would otherwise satisfy wait_for_text at once.
  std::ofstream(log, std::ios::trunc).flush();
  const pid_t child = fork();
  if (child == 0) {
    setpgid(0, 0);
    const std::string command = aether + " bench latency " + args + " >" + log + " 2>&1";
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), nullptr);
    _exit(127);
  }
  // Also from the parent, so that kill(-child, ...) finds the group even if
  // the child has not run yet (the usual double setpgid).
  if (child > 0) setpgid(child, child);
  return child;
}

bool wait_for_text(const std::string& log, const std::string& text, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (slurp(log).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

class BenchCleanup : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: the bench makes namespaces, veth pairs and XDP programs";
    before_ = kernel_state();
  }
  void expect_nothing_left() {
    // The kernel frees an anonymous namespace asynchronously after its last reference goes.
    KernelState after;
    for (int attempt = 0; attempt < 50; ++attempt) {
      after = kernel_state();
      if (after == before_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(after.namespaces, before_.namespaces);
    EXPECT_EQ(after.xdp_programs, before_.xdp_programs);
    EXPECT_EQ(after.root_links, before_.root_links);
  }
  KernelState before_;
};

TEST_F(BenchCleanup, KillNineMidRunLeavesNothingBehind) {
  const std::string log = "/tmp/aether-bench-kill.log";
  for (const std::string path : {"afxdp", "afpacket", "udp"}) {
    const pid_t bench = start_bench("--backends " + path + " --seconds 30 --ring-messages 0", log);
    ASSERT_GT(bench, 0);
    // Wait until the path is running (its first progress line), then kill it.
    const bool running = wait_for_text(log, "probes sent", std::chrono::seconds(20));
    kill(-bench, SIGKILL);
    int status = 0;
    waitpid(bench, &status, 0);
    EXPECT_TRUE(running) << path << ": " << slurp(log);
    expect_nothing_left();
  }
}

TEST_F(BenchCleanup, CtrlCPrintsWhatWasMeasuredAndCleansUp) {
  const std::string log = "/tmp/aether-bench-int.log";
  const pid_t bench = start_bench("--backends udp --seconds 30 --ring-messages 0", log);
  ASSERT_TRUE(wait_for_text(log, "probes sent", std::chrono::seconds(20))) << slurp(log);
  kill(-bench, SIGINT);
  int status = 0;
  waitpid(bench, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const std::string output = slurp(log);
  EXPECT_NE(output.find("interrupted"), std::string::npos) << output;
  EXPECT_NE(output.find("p99.99"), std::string::npos) << output;
  expect_nothing_left();
}

TEST_F(BenchCleanup, ACompleteRunLeavesNothingBehind) {
  const auto result = run_command(aether + " bench latency --backends all --seconds 0.2 --warmup 100 --ring-messages 1000");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("ring floor"), std::string::npos) << result.out;
  expect_nothing_left();
}

}  // namespace
}  // namespace aether::test
