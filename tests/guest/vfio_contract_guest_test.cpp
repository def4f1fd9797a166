// Issue 10: every backend passes one conformance suite, vfio included. The
// port contract's checks (tests/integration/port_contract_checks.hpp) run
// on the other backends in port_contract_test.cpp on the host; a vfio port
// needs a device behind an IOMMU, so here they run in a guest (QEMU TCG,
// q35, intel-iommu, Debian 6.1) with
//   00:03.0  virtio-net (modern, iommu_platform=on), MAC 52:54:00:12:34:56
//   00:04.0  Intel 82574 (e1000e), MAC 52:54:00:12:34:57
// wired to each other through one QEMU hub, both bound to vfio-pci with
// `aether bind`, and the static gtest program aether-vfio-contract
// (vfio_contract/vfio_contract_main.cpp) opening both with Aether's drivers
// in mode=interrupt: each driver's port sleeps when idle and wakes on a
// frame losing none, names its counters as the contract says, and stamps
// every frame on the TSC scale or, without an invariant TSC (TCG has none),
// says "none" and why, leaving every timestamp 0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "guest_gtest.hpp"
#include "guest_vm.hpp"
#include "vfio_guest_machine.hpp"

namespace aether::test {
namespace {

using ::testing::HasSubstr;

constexpr const char* contract_script = R"script(
step() { name=$1; shift; "$@"; echo "STEP $name rc=$?"; }
step bind_virtio aether bind 0000:00:03.0
step bind_e1000e aether bind 0000:00:04.0
aether-vfio-contract --gtest_color=no; echo "STEP contract rc=$?"
exit 0
)script";

TEST(VfioContractGuest, BothVfioDriversPassThePortContract) {
  AETHER_REQUIRE_GUEST("bookworm");
  // The contract's sleeping worker on CPU 0, the test's main thread beside it.
  GuestOptions options = vfio_hub_pair_guest(AETHER_STATIC_CLI_PATH, contract_script);
  options.files.emplace_back(AETHER_VFIO_CONTRACT_PATH, "/usr/local/bin/aether-vfio-contract");
  auto run = run_guest(options);
  ASSERT_TRUE(run.ok()) << run.error().describe();
  ASSERT_FALSE(run->timed_out) << run->console;
  ASSERT_EQ(run->exit_code, 0) << run->console;
  const std::string& out = run->script_output;
  std::cout << out;  // the guest's gtest report, for the record

  EXPECT_THAT(out, HasSubstr("STEP bind_virtio rc=0")) << out;
  EXPECT_THAT(out, HasSubstr("STEP bind_e1000e rc=0")) << out;
  for (const char* test : {"AnIdleWorkerSleepsAndWakesOnAFrameLosingNone", "StampsEveryFrameOnTheTscScaleOrSaysWhyNot",
                           "CountsItsOwnThingsAsNamedPairs"}) {
    for (const char* driver : {"virtio", "e1000e"}) {
      EXPECT_THAT(out, HasSubstr(std::string("[       OK ] Drivers/VfioContract.") + test + "/" + driver)) << out;
    }
  }
  EXPECT_THAT(out, HasSubstr("[  PASSED  ] 6 tests.")) << out;
  // TCG has no invariant TSC: the drivers say so rather than stamp with a syscall per burst.
  EXPECT_THAT(out, HasSubstr("vfio:0000:00:03.0?mode=interrupt: rx timestamps: none (")) << out;
  EXPECT_THAT(out, HasSubstr("STEP contract rc=0")) << out;
}

}  // namespace
}  // namespace aether::test
