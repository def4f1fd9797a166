// Shared pools on Aether's own drivers (issue 10, "shared pools"): `aether
// fwd` between two vfio devices whose drivers both map one pool, so a frame
// leaves the second device from the buffer the first one received it in.
// One guest (QEMU TCG, q35, intel-iommu, Debian 6.1) with four NICs on two
// QEMU hubs, all bound to vfio-pci and driven by Aether:
//   hub 0: 00:05.0 virtio-net (the bench's generator) -> 00:03.0 virtio-net (fwd's port A)
//   hub 1: 00:04.0 e1000e (fwd's port B)              -> 00:06.0 e1000e (the bench's receiver)
// `aether fwd 03.0 04.0` runs while `aether bench throughput --ports 05.0,06.0`
// sends through it; fwd prints the frames it copied between pools at the
// end: 0 with the shared pool (the default), every forwarded frame with
// --pool-per-port (virtio-net and e1000e copy a frame of another pool into
// their own). Under TCG the rates mean nothing: the test checks counts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <regex>
#include <string>

#include "guest_gtest.hpp"
#include "guest_vm.hpp"

namespace aether::test {
namespace {

using ::testing::HasSubstr;

// fwd on CPU 1, the bench's workers on CPUs 2 and 3, the shell on CPU 0.
// fwd is stopped with SIGINT after the bench: it then prints its totals,
// each port's xstats and the "pools:" line, prefixed here by the run's name.
constexpr const char* pools_script = R"script(
step() { name=$1; shift; "$@"; echo "STEP $name rc=$?"; }
for device in 03.0 04.0 05.0 06.0; do step bind_$device aether bind 0000:00:$device; done
run() {
  name=$1; shift
  aether fwd vfio:0000:00:03.0 vfio:0000:00:04.0 --cpu 1 "$@" > /tmp/fwd.out 2> /tmp/fwd.err &
  fwd=$!
  tries=0
  until grep -q "forwarding on CPU" /tmp/fwd.err || [ $tries -ge 600 ]; do sleep 0.1; tries=$((tries + 1)); done
  aether bench throughput --ports vfio:0000:00:05.0,vfio:0000:00:06.0 --cpus 2,3 --seconds 1 --ring-messages 0 \
    --json /tmp/throughput.json > /tmp/throughput.txt 2>&1
  echo "STEP ${name}_bench rc=$?"
  kill -INT $fwd
  wait $fwd
  echo "STEP ${name}_fwd rc=$?"
  sed "s/^/$name /" /tmp/fwd.out
  sed "s/^/$name-ERR /" /tmp/fwd.err
  grep -o '"received": [0-9]*' /tmp/throughput.json | sed "s/^/$name-BENCH /"
}
run SHARED
run PERPORT --pool-per-port
exit 0
)script";

// The `aether fwd` totals of one run: A->B forwarded and the frames copied.
struct FwdTotals {
  long forwarded = -1;
  long copied = -1;
};

FwdTotals totals_of(const std::string& out, const std::string& name) {
  FwdTotals totals;
  std::smatch match;
  if (std::regex_search(out, match, std::regex(name + R"( total: A->B forwarded (\d+))"))) {
    totals.forwarded = std::stol(match[1]);
  }
  if (std::regex_search(out, match, std::regex(name + R"( pools: (\d+) frames copied between pools)"))) {
    totals.copied = std::stol(match[1]);
  }
  return totals;
}

TEST(PoolsGuest, FwdBetweenTwoVfioDevicesCopiesNothingOnASharedPool) {
  AETHER_REQUIRE_GUEST("bookworm");
  GuestOptions options;
  options.kernel = "bookworm";
  options.cpus = 4;
  options.memory_mib = 1024;
  options.files.emplace_back(AETHER_STATIC_CLI_PATH, "/usr/local/bin/aether");
  options.modules = {"vfio", "vfio_pci", "vfio_iommu_type1", "virtio_pci", "virtio_net", "e1000e"};
  options.extra_qemu_args = {
      "-netdev", "hubport,id=g0,hubid=0",
      "-netdev", "hubport,id=a0,hubid=0",
      "-netdev", "hubport,id=b1,hubid=1",
      "-netdev", "hubport,id=r1,hubid=1",
      "-device", "virtio-net-pci,disable-legacy=on,iommu_platform=on,netdev=a0,addr=03.0",
      "-device", "e1000e,netdev=b1,addr=04.0",
      "-device", "virtio-net-pci,disable-legacy=on,iommu_platform=on,netdev=g0,addr=05.0",
      "-device", "e1000e,netdev=r1,addr=06.0",
  };
  options.script = pools_script;
  options.timeout = std::chrono::seconds(360);
  auto run = run_guest(options);
  ASSERT_TRUE(run.ok()) << run.error().describe();
  ASSERT_FALSE(run->timed_out) << run->console;
  ASSERT_EQ(run->exit_code, 0) << run->console;
  const std::string& out = run->script_output;
  std::cout << out;  // the figures, for the record

  for (const char* device : {"03.0", "04.0", "05.0", "06.0"}) {
    EXPECT_THAT(out, HasSubstr(std::string("STEP bind_") + device + " rc=0")) << out;
  }
  EXPECT_THAT(out, HasSubstr("STEP SHARED_fwd rc=0")) << out;
  EXPECT_THAT(out, HasSubstr("STEP PERPORT_fwd rc=0")) << out;
  EXPECT_THAT(out, HasSubstr("SHARED-ERR aether fwd: one pool shared by both ports")) << out;

  const FwdTotals shared = totals_of(out, "SHARED");
  EXPECT_GT(shared.forwarded, 0) << out;
  EXPECT_EQ(shared.copied, 0) << "one pool: every frame left from the buffer it arrived in\n" << out;
  const FwdTotals per_port = totals_of(out, "PERPORT");
  EXPECT_GT(per_port.forwarded, 0) << out;
  EXPECT_GT(per_port.copied, 0) << "a pool per port: the e1000e copies each frame of the virtio pool\n" << out;
}

}  // namespace
}  // namespace aether::test
