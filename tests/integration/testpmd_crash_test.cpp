// A DPDK peer that crashes is a result to report, never a reason for the
// measuring process to die (issue: testpmd segfaulted inside
// librte_net_memif and `aether` then died of SIGPIPE writing to its stdin).
// The real dpdk-testpmd is started and then killed with SIGSEGV.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "aether/measure/testpmd_process.hpp"

namespace aether::test {
namespace {

TEST(TestpmdProcess, ACrashedPeerIsReportedWithItsSignalAndNeverRaisesSigpipe) {
  if (const std::string problem = measure::TestpmdProcess::missing_memif_support(); !problem.empty()) {
    GTEST_SKIP() << "\n*** DPDK NOT TESTED: " << problem << " ***\n";
  }
  measure::TestpmdProcess testpmd;
  measure::TestpmdProcess::Options options;
  options.vdevs = {"net_memif,role=server,id=0,socket=aether-crash-test-" + std::to_string(::getpid())};
  options.forward_mode = "rxonly";
  auto started = testpmd.start(options);
  ASSERT_TRUE(started) << started.error().describe();
  ASSERT_GT(testpmd.pid(), 0);
  ASSERT_EQ(::kill(testpmd.pid(), SIGSEGV), 0);
  // Wait until it is gone (its stdout closes), then talk to it: the write
  // meets a pipe with no reader. SIGPIPE's default action would end this test.
  for (int i = 0; i < 500 && !testpmd.exited(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(testpmd.exited());
  EXPECT_FALSE(testpmd.command("show port stats 0"));
  EXPECT_FALSE(testpmd.command("show port stats 0")) << "a second write after the pipe broke";
  auto stats = testpmd.port_stats();
  ASSERT_FALSE(stats);
  EXPECT_NE(stats.error().message.find("testpmd died before 'show port stats'"), std::string::npos)
      << stats.error().message;
  EXPECT_NE(stats.error().message.find("killed by signal 11"), std::string::npos) << stats.error().message;
  EXPECT_EQ(testpmd.exit_description().rfind("killed by signal 11", 0), 0u) << testpmd.exit_description();
  testpmd.stop();  // nothing left to stop: no hang, no signal to a reused pid
}

TEST(TestpmdProcess, ExitDescriptionsNameSignalOrStatus) {
  int status = 0;
  const pid_t child = ::fork();
  if (child == 0) ::_exit(3);
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(measure::describe_child_exit(status), "exited with status 3");
  const pid_t killed = ::fork();
  if (killed == 0) {
    ::pause();
    ::_exit(0);
  }
  ::kill(killed, SIGKILL);
  ASSERT_EQ(::waitpid(killed, &status, 0), killed);
  EXPECT_EQ(measure::describe_child_exit(status), "killed by signal 9 (Killed)");
}

}  // namespace
}  // namespace aether::test
