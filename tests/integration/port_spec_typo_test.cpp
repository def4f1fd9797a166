// Issue 13 item 15: every port spec the user typed is checked before
// anything is allocated or opened. A typo used to surface only after a
// 32 MiB pool was made (with its hugepage warning) and, for fwd, after the
// first port was opened. Runs the real binary; needs no privilege, since a
// bad spec is refused before anything that would.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.hpp"

namespace aether::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string aether = AETHER_CLI_PATH;

// Nothing a pool or an opened port would have printed.
void expect_nothing_allocated(const CommandOutput& run) {
  EXPECT_THAT(run.err, Not(HasSubstr("memory region"))) << run.err;
  EXPECT_THAT(run.err, Not(HasSubstr("hugepage"))) << run.err;
  EXPECT_THAT(run.err, Not(HasSubstr(", mac "))) << run.err;  // "port SPEC: MODE on IF, mac ..., link ..."
}

TEST(PortSpecTypos, EchoRefusesAnUnknownParameterFirst) {
  const auto run = run_command(aether + " echo 'udp:127.0.0.1:47999?wiat=block' --seconds 1");
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("aether echo: port 'udp:127.0.0.1:47999?wiat=block': unknown parameter 'wiat'"));
  expect_nothing_allocated(run);
}

// The second port's typo used to be found after the first port had its
// pool and was open.
TEST(PortSpecTypos, FwdChecksBothSpecsBeforeOpeningEither) {
  const auto run = run_command(aether + " fwd udp:127.0.0.1:47999 'udp:127.0.0.1:47999?wait=spinn' --seconds 1");
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("aether fwd: port 'udp:127.0.0.1:47999?wait=spinn': wait=spinn"));
  expect_nothing_allocated(run);
}

TEST(PortSpecTypos, PingRefusesABadValueFirst) {
  const auto run =
      run_command(aether + " ping 'udp:127.0.0.1:47999?batch=0' --ip 127.0.0.1 --peer 127.0.0.2");
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("aether ping: port 'udp:127.0.0.1:47999?batch=0': batch=0"));
  expect_nothing_allocated(run);
}

TEST(PortSpecTypos, BenchPortsAreCheckedBeforeTheBenchStarts) {
  const auto run = run_command(aether + " bench latency --ports 'afpacket:a0?verison=3,afpacket:b0' --ring-messages 0");
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("--ports: port 'afpacket:a0?verison=3': unknown parameter 'verison'"));
  EXPECT_THAT(run.err, Not(HasSubstr("A (generator)"))) << run.err;  // the error of opening it
  expect_nothing_allocated(run);
  const auto vfio = run_command(aether + " bench throughput --ports 'vfio:0000:00:03.0?queue_size=300,vfio:0000:00:04.0'");
  EXPECT_EQ(vfio.exit_code, 1) << vfio.out << vfio.err;
  EXPECT_THAT(vfio.err, HasSubstr("queue_size=300 must be a power of two"));
  expect_nothing_allocated(vfio);
}

}  // namespace
}  // namespace aether::test
