// VFIO's second kernel interface in a real kernel: iommufd (/dev/iommu) and
// the VFIO device cdev (/dev/vfio/devices/vfioN), next to the container/group
// path, in one guest. Debian's kernels have neither CONFIG_IOMMUFD nor
// CONFIG_VFIO_DEVICE_CDEV, so this test boots the harness's own 6.12 build
// (scripts/guest/build-kernel-iommufd, "iommufd" kernel).
//
// Opt-in: building that kernel takes 20-50 minutes on two cores, more than
// CI may spend. The test runs when the kernel is in the cache, builds it
// first with AETHER_GUEST_IOMMUFD=1, and is skipped otherwise (even in CI),
// saying how to build it.
//
// Devices: vfio_guest_machine.hpp (virtio-net at 00:03.0, e1000e at
// 00:04.0, each on a QEMU user network that answers vfio-probe's ARP
// request; behind a PCI bridge a virtio-net sharing its IOMMU group with an
// e1000).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "child_process.hpp"
#include "guest_gtest.hpp"
#include "guest_vm.hpp"
#include "vfio_guest_machine.hpp"

namespace aether::test {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

constexpr const char* iommufd_kernel = "iommufd";

// Each step prints "BEGIN <name>" and "STEP <name> rc=<status>", so the
// assertions can look at one step's output (see step_output).
constexpr const char* cdev_script = R"script(
step() { name=$1; shift; echo "BEGIN $name"; "$@"; echo "STEP $name rc=$?"; }
driver() { basename "$(readlink /sys/bus/pci/devices/$1/driver)"; }
echo "KERNEL $(uname -r)"
[ -c /dev/iommu ] && echo "HAVE /dev/iommu"
step bind_virtio aether bind 0000:00:03.0
echo "DRIVER 00:03.0 after bind: $(driver 0000:00:03.0)"
echo "CDEV 00:03.0 $(ls /sys/bus/pci/devices/0000:00:03.0/vfio-dev 2>&1)"
echo "DEVICES $(ls /dev/vfio/devices 2>&1)"
step probe_virtio_cdev aether-vfio-probe --send-arp 0000:00:03.0
step fault_virtio_cdev aether-vfio-probe --fault-test 0000:00:03.0
dmesg | grep "Request device" | sed 's/^/KERNEL LOG /'
step probe_virtio_container env AETHER_VFIO_INTERFACE=container aether-vfio-probe --send-arp 0000:00:03.0
step probe_virtio_bad_request env AETHER_VFIO_INTERFACE=iommu aether-vfio-probe 0000:00:03.0
step unbind_virtio aether unbind 0000:00:03.0
echo "DRIVER 00:03.0 after unbind: $(driver 0000:00:03.0)"
step bind_e1000e aether bind 0000:00:04.0
echo "CDEV 00:04.0 $(ls /sys/bus/pci/devices/0000:00:04.0/vfio-dev 2>&1)"
step probe_e1000e_cdev aether-vfio-probe --send-arp 0000:00:04.0
step probe_e1000e_container env AETHER_VFIO_INTERFACE=container aether-vfio-probe --send-arp 0000:00:04.0
step unbind_e1000e aether unbind 0000:00:04.0
echo "DRIVER 00:04.0 after unbind: $(driver 0000:00:04.0)"
step bind_shared aether bind 0000:01:01.0
step probe_shared_cdev env AETHER_VFIO_INTERFACE=cdev aether-vfio-probe 0000:01:01.0
step unbind_shared aether unbind 0000:01:01.0
exit 0
)script";

// The console lines of step `name`: from its BEGIN line to its STEP line.
std::string step_output(const std::string& out, std::string_view name) {
  const std::string begin = "BEGIN " + std::string(name) + "\n";
  const auto from = out.find(begin);
  if (from == std::string::npos) return {};
  const auto step = out.find("STEP " + std::string(name) + " rc=", from);
  const auto to = step == std::string::npos ? std::string::npos : out.find('\n', step);
  return out.substr(from, to == std::string::npos ? std::string::npos : to - from);
}

// Nothing when the iommufd kernel is in the cache (built now if
// AETHER_GUEST_IOMMUFD=1 asks for it); otherwise why the test cannot run.
std::optional<std::string> iommufd_kernel_unavailable(bool& build_failed) {
  build_failed = false;
  auto work = TemporaryDirectory::create("aether-guest-iommufd-");
  if (!work) return work.error().describe();
  const std::string script = guest_scripts_dir() + "/build-kernel-iommufd";
  const std::string out = work->path() + "/out";
  const std::string err = work->path() + "/err";
  auto check = run_process({script, "--check"}, out, err, std::chrono::seconds(60));
  if (!check) return check.error().describe();
  if (!check->timed_out && check->exit_status == 0) return std::nullopt;
  const char* build = std::getenv("AETHER_GUEST_IOMMUFD");
  if (build == nullptr || std::string_view(build) != "1") {
    return "the iommufd guest kernel (6.12 with IOMMUFD and VFIO_DEVICE_CDEV) is not built; this test is opt-in. "
           "Build it once with `scripts/guest/build-kernel-iommufd` (20-50 min on 2 cores, cached in "
           "/var/cache/aether-guest/kernels/iommufd) or run the test with AETHER_GUEST_IOMMUFD=1";
  }
  auto built = run_process({script}, out, err, std::chrono::hours(2));
  if (!built) return built.error().describe();
  if (built->timed_out || built->exit_status != 0) {
    build_failed = true;
    return "scripts/guest/build-kernel-iommufd failed: " + last_lines(read_text_file(err), 20);
  }
  return std::nullopt;
}

TEST(VfioCdevGuest, IommufdAndContainerPaths) {
  bool build_failed = false;
  if (auto missing = iommufd_kernel_unavailable(build_failed)) {
    if (build_failed) FAIL() << *missing;
    GTEST_SKIP() << "\n*** GUEST TEST SKIPPED (opt-in) ***\n" << *missing;
  }
  AETHER_REQUIRE_GUEST(iommufd_kernel);
  GuestOptions options;
  options.kernel = iommufd_kernel;
  options.cpus = 2;
  options.memory_mib = 768;
  options.files.emplace_back(AETHER_STATIC_CLI_PATH, "/usr/local/bin/aether");
  options.files.emplace_back(AETHER_VFIO_PROBE_PATH, "/usr/local/bin/aether-vfio-probe");
  // Built in: module lists are no-ops for this kernel (kept to show that).
  options.modules = {"vfio_pci", "virtio_pci", "e1000e"};
  options.extra_qemu_args = vfio_guest_devices();
  options.script = cdev_script;
  options.timeout = std::chrono::seconds(240);
  auto run = run_guest(options);
  ASSERT_TRUE(run.ok()) << run.error().describe();
  ASSERT_FALSE(run->timed_out) << run->console;
  ASSERT_EQ(run->exit_code, 0) << run->console;
  const std::string& out = run->script_output;

  // The kernel has both interfaces: /dev/iommu, and a character device
  // /dev/vfio/devices/vfioN per device bound to vfio-pci (the sysfs
  // vfio-dev/vfioN entry exists on Debian's kernels too).
  EXPECT_THAT(out, ContainsRegex("KERNEL 6\\.[0-9]+\\.[0-9]+-aether-iommufd")) << out;
  EXPECT_THAT(out, HasSubstr("HAVE /dev/iommu")) << out;
  EXPECT_THAT(out, HasSubstr("STEP bind_virtio rc=0")) << out;
  EXPECT_THAT(out, HasSubstr("DRIVER 00:03.0 after bind: vfio-pci"));
  EXPECT_THAT(out, ContainsRegex("CDEV 00:03.0 vfio[0-9]+\n")) << out;
  EXPECT_THAT(out, ContainsRegex("DEVICES vfio[0-9]+")) << out;  // the character device, not only sysfs

  // virtio-net through iommufd + the device cdev: chosen and logged, DMA
  // mapped into an IOAS, ARP out and the reply in through Aether's queues,
  // the receive interrupt on its eventfd.
  const std::string cdev = step_output(out, "probe_virtio_cdev");
  EXPECT_THAT(cdev, ContainsRegex("0000:00:03.0: using iommufd \\+ VFIO device cdev \\(/dev/vfio/devices/vfio[0-9]+, "
                                  "/dev/iommu\\)"))
      << cdev;
  EXPECT_THAT(cdev, HasSubstr("interface: iommufd + VFIO device cdev"));
  EXPECT_THAT(cdev, ContainsRegex("dma: mapped 0x200000 bytes at IOVA 0x10000000 in iommufd /dev/iommu IOAS [0-9]+"));
  EXPECT_THAT(cdev, HasSubstr("virtio: transmitted ARP request (60 bytes) for 10.0.2.2"));
  EXPECT_THAT(cdev, HasSubstr("virtio: ARP reply: 10.0.2.2 is at 52:55:0a:00:02:02"));
  EXPECT_THAT(cdev, ContainsRegex("msix: receive queue interrupts on eventfd: [1-9]"));
  EXPECT_THAT(cdev, HasSubstr("STEP probe_virtio_cdev rc=0"));

  // The IOMMU fences DMA on the iommufd path too: receive buffers at IOVAs
  // never mapped in the IOAS; the guest kernel reports the faulting write,
  // Aether sees no reply, its memory keeps its canary, and it exits cleanly.
  const std::string fault = step_output(out, "fault_virtio_cdev");
  EXPECT_THAT(fault, HasSubstr("interface: iommufd + VFIO device cdev")) << fault;
  EXPECT_THAT(fault, HasSubstr("virtio: fault test: transmitted true, reply received false")) << fault;
  EXPECT_THAT(fault, HasSubstr("receive memory untouched"));
  EXPECT_THAT(fault, HasSubstr("STEP fault_virtio_cdev rc=0"));
  EXPECT_THAT(out, ContainsRegex("KERNEL LOG .*DMA Write.*Request device \\[(0000:)?00:03.0\\] fault addr")) << out;

  // The same device through the container/group path, forced by
  // AETHER_VFIO_INTERFACE=container, in the same kernel.
  const std::string container = step_output(out, "probe_virtio_container");
  EXPECT_THAT(container, HasSubstr("using VFIO container/group (group ")) << container;
  EXPECT_THAT(container, HasSubstr("AETHER_VFIO_INTERFACE=container"));
  EXPECT_THAT(container, HasSubstr("dma: mapped 0x200000 bytes at IOVA 0x10000000 in VFIO container /dev/vfio/vfio"));
  EXPECT_THAT(container, HasSubstr("virtio: ARP reply: 10.0.2.2 is at 52:55:0a:00:02:02"));
  EXPECT_THAT(container, HasSubstr("STEP probe_virtio_container rc=0"));

  // A misspelt request is an error naming the variable, not a silent choice.
  EXPECT_THAT(out, HasSubstr("AETHER_VFIO_INTERFACE=iommu is not one of auto, container, cdev")) << out;
  EXPECT_THAT(out, HasSubstr("STEP probe_virtio_bad_request rc=1"));
  EXPECT_THAT(out, HasSubstr("STEP unbind_virtio rc=0"));
  EXPECT_THAT(out, HasSubstr("DRIVER 00:03.0 after unbind: virtio-pci"));

  // e1000e: both paths, ARP through Aether's own 82574 rings each time.
  EXPECT_THAT(out, ContainsRegex("CDEV 00:04.0 vfio[0-9]+\n")) << out;
  const std::string e1000e_cdev = step_output(out, "probe_e1000e_cdev");
  EXPECT_THAT(e1000e_cdev, HasSubstr("interface: iommufd + VFIO device cdev")) << e1000e_cdev;
  EXPECT_THAT(e1000e_cdev, HasSubstr("e1000e: ARP reply: 10.0.2.2 is at 52:55:0a:00:02:02"));
  EXPECT_THAT(e1000e_cdev, HasSubstr("msix: 5 vectors offered, 1 routed to eventfd"));
  EXPECT_THAT(e1000e_cdev, HasSubstr("reset: done"));
  EXPECT_THAT(e1000e_cdev, HasSubstr("STEP probe_e1000e_cdev rc=0"));
  const std::string e1000e_container = step_output(out, "probe_e1000e_container");
  EXPECT_THAT(e1000e_container, HasSubstr("interface: VFIO container/group")) << e1000e_container;
  EXPECT_THAT(e1000e_container, HasSubstr("e1000e: ARP reply: 10.0.2.2 is at 52:55:0a:00:02:02"));
  EXPECT_THAT(e1000e_container, HasSubstr("STEP probe_e1000e_container rc=0"));
  EXPECT_THAT(out, HasSubstr("DRIVER 00:04.0 after unbind: e1000e"));

  // A device whose IOMMU group still has a kernel-driven member (the e1000
  // behind the same bridge): the cdev bind is refused by the kernel, and
  // the error names the other device and what to do, as on the group path.
  const std::string shared = step_output(out, "probe_shared_cdev");
  EXPECT_THAT(shared, HasSubstr("is not viable")) << shared;
  EXPECT_THAT(shared, HasSubstr("0000:01:02.0 (e1000)"));
  EXPECT_THAT(shared, HasSubstr("STEP probe_shared_cdev rc=1"));
  EXPECT_THAT(out, HasSubstr("STEP unbind_shared rc=0"));
}

}  // namespace
}  // namespace aether::test
