// `aether bench latency|throughput --ports vfio:A,vfio:B` with Aether's own
// drivers on both ends (issue 6: both drivers "work in aether bench
// unchanged"). One guest (QEMU TCG, q35, intel-iommu, Debian 6.1) with
//   00:03.0  virtio-net (modern, iommu_platform=on), the generator's port
//   00:04.0  Intel 82574 (e1000e), the responder's port
// wired to each other through one QEMU hub (hubport h0 and h1 of hub 0), so
// what one sends the other receives. Both are bound to vfio-pci with
// `aether bind`. Under TCG the figures mean nothing: the test checks that
// each table has the row, that replies came back and frames were received.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <regex>
#include <string>

#include "guest_gtest.hpp"
#include "guest_vm.hpp"
#include "vfio_guest_machine.hpp"

namespace aether::test {
namespace {

using ::testing::HasSubstr;

// Each step prints "STEP <name> rc=<status>"; each table line is prefixed.
// --warmup 100: the default 5000 would take 5 s at 1000/s. --ring-messages 0:
// the ring floor's round trips crawl on single-threaded TCG (each one waits
// for QEMU to switch vCPUs); the default 100000 ran past the timeout.
constexpr const char* bench_script = R"script(
step() { name=$1; shift; "$@"; echo "STEP $name rc=$?"; }
step bind_virtio aether bind 0000:00:03.0
step bind_e1000e aether bind 0000:00:04.0
aether bench latency --ports vfio:0000:00:03.0,vfio:0000:00:04.0 --rate 1000 --seconds 1 --warmup 100 \
  --ring-messages 0 > /tmp/latency.txt 2>/tmp/latency.err
echo "STEP latency rc=$?"
sed 's/^/LATENCY /' /tmp/latency.txt
sed 's/^/LATENCY-ERR /' /tmp/latency.err
aether bench throughput --ports vfio:0000:00:03.0,vfio:0000:00:04.0 --seconds 1 --ring-messages 0 \
  --json /tmp/throughput.json \
  > /tmp/throughput.txt 2>/tmp/throughput.err
echo "STEP throughput rc=$?"
grep -o '"received": [0-9]*' /tmp/throughput.json | sed 's/^/THROUGHPUT-JSON /'
sed 's/^/THROUGHPUT /' /tmp/throughput.txt
sed 's/^/THROUGHPUT-ERR /' /tmp/throughput.err
exit 0
)script";

TEST(VfioBenchGuest, LatencyAndThroughputBetweenVirtioAndE1000e) {
  AETHER_REQUIRE_GUEST("bookworm");
  // Three vCPUs: the two busy-polling workers on CPUs 0 and 1 (the bench's
  // default, the first two allowed), the shell and the bench's main thread
  // on the third.
  GuestOptions options = vfio_hub_pair_guest(AETHER_STATIC_CLI_PATH, bench_script);
  options.timeout = std::chrono::seconds(120);
  auto run = run_guest(options);
  ASSERT_TRUE(run.ok()) << run.error().describe();
  ASSERT_FALSE(run->timed_out) << run->console;
  ASSERT_EQ(run->exit_code, 0) << run->console;
  const std::string& out = run->script_output;
  std::cout << out;  // the tables, for the record

  EXPECT_THAT(out, HasSubstr("STEP bind_virtio rc=0")) << out;
  EXPECT_THAT(out, HasSubstr("STEP bind_e1000e rc=0")) << out;

  // Latency: the row labelled with the specs; replies came back.
  EXPECT_THAT(out, HasSubstr("STEP latency rc=0")) << out;
  const std::regex latency_row(R"(LATENCY vfio:0000:00:03.0,vfio:0000:00:04.0 +(\S+ \S+ +){5}(\d+) +(\d+) )");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(out, match, latency_row)) << out;
  EXPECT_GT(std::stol(match[3]), 0) << out;
  // The responder is Aether's e1000e driver.
  EXPECT_THAT(out, HasSubstr("(responder vfio:0000:00:04.0)")) << out;

  // Throughput: the row, with frames received.
  EXPECT_THAT(out, HasSubstr("STEP throughput rc=0")) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(THROUGHPUT vfio:0000:00:03.0,vfio:0000:00:04.0 +64 +[0-9.]+ )")))
      << out;
  // The count, not the Mpps a TCG guest may print as 0.000.
  ASSERT_TRUE(std::regex_search(out, match, std::regex(R"(THROUGHPUT-JSON "received": (\d+))"))) << out;
  EXPECT_GT(std::stol(match[1]), 0) << out;
}

}  // namespace
}  // namespace aether::test
