// The fluid partition on cgroup v2 in real kernels: Debian's 6.1 (bookworm)
// and 6.12 (bookworm-backports) under QEMU with 4 vCPUs. In the guest, CPUs
// 1-3 become an isolated partition (`fluid`, cpuset.cpus.partition =
// isolated) with a child cpuset `fluid/app` on CPU 3 running `aether fluid
// workload --phases idle:8,compute:4,idle:4` (8 s idle first: loading the
// BPF programs under TCG on a loaded host took seconds, and a compute phase
// over before the first interval was once all that failed); `aether fluid run` (real BPF
// telemetry, a latency policy with ceiling 3) grows the app into the
// partition on the compute phase and shrinks it on idle, the partition stays
// valid throughout, and `aether partition revert` gives the app its CPU 3
// back from the journal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "guest_gtest.hpp"
#include "guest_vm.hpp"

#ifndef AETHER_STATIC_CLI_PATH
#error "AETHER_STATIC_CLI_PATH must name the static aether CLI (aether_static_cli)"
#endif

namespace aether::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* script = R"script(
cd /sys/fs/cgroup
echo +cpuset > cgroup.subtree_control
mkdir fluid
echo 1-3 > fluid/cpuset.cpus
echo isolated > fluid/cpuset.cpus.partition
echo "PARTITION-BEFORE $(cat fluid/cpuset.cpus.partition)"
echo +cpuset > fluid/cgroup.subtree_control
mkdir fluid/app
echo 3 > fluid/app/cpuset.cpus
sh -c 'echo $$ > /sys/fs/cgroup/fluid/app/cgroup.procs && exec aether fluid workload --phases idle:8,compute:4,idle:4' >/tmp/workload.out 2>&1 &
workload=$!
sleep 0.5
cat > /tmp/policy.toml <<POLICY
goal = "latency"
[resize]
ceiling = 3
shrink_after = 3
min_dwell_ms = 200
[phases]
compute = 3
idle = 1
POLICY
aether fluid run --policy /tmp/policy.toml --cgroup /sys/fs/cgroup/fluid/app --journal /tmp/fluid/fluid.journal --log /tmp/decisions.jsonl
echo "RUN-EXIT $?"
wait $workload
echo "WORKLOAD-EXIT $?"
cat /tmp/workload.out
echo "GROWS $(grep -c '"decision":"grow"' /tmp/decisions.jsonl)"
echo "SHRINKS $(grep -c '"decision":"shrink"' /tmp/decisions.jsonl)"
echo "MOST-CPUS $(grep -o '"cpus":[0-9]*' /tmp/decisions.jsonl | sort -t: -k2 -n | tail -1)"
echo "PARTITION-AFTER $(cat fluid/cpuset.cpus.partition)"
aether partition revert --journal /tmp/fluid/fluid.journal
echo "REVERTED-CPUS $(cat fluid/app/cpuset.cpus)"
)script";

class FluidGuest : public ::testing::TestWithParam<const char*> {};

TEST_P(FluidGuest, FluidRunGrowsAndShrinksACpusetInsideAnIsolatedPartition) {
  AETHER_REQUIRE_GUEST(GetParam());
  GuestOptions options;
  options.kernel = GetParam();
  options.cpus = 4;
  options.extra_cmdline = "quiet";
  options.files.emplace_back(AETHER_STATIC_CLI_PATH, "/usr/local/bin/aether");
  options.script = script;
  options.timeout = std::chrono::seconds(300);
  auto run = run_guest(options);
  ASSERT_TRUE(run.ok()) << run.error().describe();
  ASSERT_FALSE(run->timed_out) << run->console;
  std::printf("[ guest    ] %s: %.1f s wall time\n", GetParam(), static_cast<double>(run->wall_time.count()) / 1000.0);
  const std::string& output = run->script_output;
  EXPECT_THAT(output, HasSubstr("PARTITION-BEFORE isolated\n")) << output;
  EXPECT_THAT(output, HasSubstr("RUN-EXIT 0\n")) << output;
  EXPECT_THAT(output, HasSubstr("WORKLOAD-EXIT 0\n")) << output;
  EXPECT_THAT(output, Not(HasSubstr("GROWS 0\n"))) << output;
  EXPECT_THAT(output, Not(HasSubstr("SHRINKS 0\n"))) << output;
  EXPECT_THAT(output, HasSubstr("MOST-CPUS \"cpus\":3\n")) << output;
  EXPECT_THAT(output, HasSubstr("PARTITION-AFTER isolated\n")) << output;
  EXPECT_THAT(output, HasSubstr("REVERTED-CPUS 3\n")) << output;
}

// Test names by kernel version, as partition_guest_test.cpp names them.
std::string kernel_name(const ::testing::TestParamInfo<const char*>& kernel) {
  return std::string(kernel.param) == "bookworm" ? "Linux6_1" : "Linux6_12";
}

INSTANTIATE_TEST_SUITE_P(Kernels, FluidGuest, ::testing::Values("bookworm", "bookworm-backports"), kernel_name);

}  // namespace
}  // namespace aether::test
