// VFIO in a real kernel with an emulated IOMMU (QEMU q35 + intel-iommu,
// Debian 6.1, 6.12 and 7.2): `aether devices`, `aether bind`, the VFIO layer through
// `aether-vfio-probe` (a tool of these tests, tests/guest/vfio_probe/), and
// `aether unbind` giving the device back.
//
// Devices: virtio-net (modern only, behind the IOMMU: iommu_platform=on) at
// 00:03.0, an Intel 82574 (e1000e) at 00:04.0, and behind a conventional
// PCI bridge (one IOMMU group for everything behind it) a second virtio-net
// at 01:01.0 next to an e1000 at 01:02.0, to see the non-viable group
// error. The first virtio-net is attached to QEMU's user network (no host
// privileges), which answers the ARP request vfio-probe --send-arp sends;
// the e1000e has its own user network (link up, and its own ARP exchange).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "guest_gtest.hpp"
#include "guest_vm.hpp"

namespace aether::test {
namespace {

using ::testing::HasSubstr;

// Each step prints "STEP <name> rc=<status>" so the assertions can tell
// the steps apart in the console.
constexpr const char* vfio_script = R"script(
step() { name=$1; shift; "$@"; echo "STEP $name rc=$?"; }
driver() { basename "$(readlink /sys/bus/pci/devices/$1/driver)"; }
step devices aether devices
# A host-owned interface: up, an address, the default route through it.
# (Names depend on probe order: take it from sysfs.)
interface=$(ls /sys/bus/pci/devices/0000:00:03.0/virtio*/net)
echo "INTERFACE 00:03.0 $interface"
ip link set "$interface" up
ip addr add 192.0.2.1/24 dev "$interface"
ip route add default via 192.0.2.254 dev "$interface"
step bind_in_use aether bind 0000:00:03.0
ip link set "$interface" down
step bind_virtio aether bind 0000:00:03.0
echo "DRIVER 00:03.0 after bind: $(driver 0000:00:03.0)"
step fault_virtio aether-vfio-probe --fault-test 0000:00:03.0
dmesg | grep "Request device" | sed 's/^/KERNEL LOG /'
step probe_virtio aether-vfio-probe --send-arp 0000:00:03.0
# The virtio-net port under `aether echo`, then taken away underneath it:
# bus mastering cleared in its command register (any root process can,
# through sysfs), which makes QEMU's virtio-pci drop DRIVER_OK. Echo must
# report the device fault and exit 1; the device works again afterwards.
step echo_virtio aether echo vfio:0000:00:03.0 --seconds 2
aether echo vfio:0000:00:03.0 --seconds 60 > /tmp/virtio-echo.log 2>&1 &
echo_pid=$!
i=0; while [ $i -lt 150 ] && ! grep -q " s  rx" /tmp/virtio-echo.log; do sleep 0.2; i=$((i+1)); done
printf '\003\001' | dd of=/sys/bus/pci/devices/0000:00:03.0/config bs=1 seek=4 conv=notrunc 2>/dev/null
echo "BUS MASTER OFF 00:03.0 rc=$?"
wait $echo_pid; echo "STEP echo_fault_virtio rc=$?"
sed 's/^/VIRTIO ECHO /' /tmp/virtio-echo.log
step probe_virtio_again aether-vfio-probe --send-arp 0000:00:03.0
step unbind_virtio aether unbind 0000:00:03.0
echo "DRIVER 00:03.0 after unbind: $(driver 0000:00:03.0)"
echo "KERNEL MAC 00:03.0 $(cat /sys/bus/pci/devices/0000:00:03.0/virtio*/net/*/address)"
step bind_e1000e aether bind 0000:00:04.0
echo "DRIVER 00:04.0 after bind: $(driver 0000:00:04.0)"
step probe_e1000e aether-vfio-probe --send-arp 0000:00:04.0
# The 82574 reset underneath a running port (a function reset through
# sysfs, as another process could do): the port must report it and stop.
aether-vfio-probe --send-arp --hold 30 0000:00:04.0 > /tmp/e1000e-hold.log 2>&1 &
hold=$!
i=0; while [ $i -lt 150 ] && ! grep -q "ARP reply" /tmp/e1000e-hold.log; do sleep 0.2; i=$((i+1)); done
echo 1 > /sys/bus/pci/devices/0000:00:04.0/reset; echo "RESET 00:04.0 rc=$?"
wait $hold; echo "STEP fault_e1000e rc=$?"
sed 's/^/HOLD /' /tmp/e1000e-hold.log
step unbind_e1000e aether unbind 0000:00:04.0
echo "DRIVER 00:04.0 after unbind: $(driver 0000:00:04.0)"
echo "KERNEL MAC 00:04.0 $(cat /sys/bus/pci/devices/0000:00:04.0/net/*/address)"
step bind_shared aether bind 0000:01:01.0
step probe_shared aether-vfio-probe 0000:01:01.0
step unbind_shared aether unbind 0000:01:01.0
echo "DRIVER 01:01.0 after unbind: $(driver 0000:01:01.0)"
step bind_bridge aether bind 0000:00:05.0
exit 0
)script";

// The kernel suites: 6.1 (bookworm), 6.12 (bookworm-backports), 7.2 (sid).
// None has CONFIG_IOMMUFD, so all three take the container/group path.
class VfioGuest : public ::testing::TestWithParam<const char*> {};

TEST_P(VfioGuest, DevicesBindProbeUnbind) {
  AETHER_REQUIRE_GUEST(GetParam());
  GuestOptions options;
  options.kernel = GetParam();
  options.cpus = 2;
  options.memory_mib = 768;
  options.files.emplace_back(AETHER_STATIC_CLI_PATH, "/usr/local/bin/aether");
  options.files.emplace_back(AETHER_VFIO_PROBE_PATH, "/usr/local/bin/aether-vfio-probe");
  options.modules = {"vfio", "vfio_pci", "vfio_iommu_type1", "virtio_pci", "virtio_net", "e1000e", "e1000"};
  options.extra_qemu_args = {
      "-netdev", "user,id=user0",  // QEMU's user network: answers ARP for 10.0.2.2, needs no privileges
      "-device", "virtio-net-pci,disable-legacy=on,iommu_platform=on,addr=03.0,netdev=user0",
      "-netdev", "user,id=user1",
      "-device", "e1000e,addr=04.0,netdev=user1",
      "-device", "pci-bridge,id=bridge1,chassis_nr=1,addr=05.0",
      "-device", "virtio-net-pci,disable-legacy=on,iommu_platform=on,bus=bridge1,addr=01.0",
      "-device", "e1000,bus=bridge1,addr=02.0",
  };
  options.script = vfio_script;
  options.timeout = std::chrono::seconds(240);
  auto run = run_guest(options);
  ASSERT_TRUE(run.ok()) << run.error().describe();
  ASSERT_FALSE(run->timed_out) << run->console;
  ASSERT_EQ(run->exit_code, 0) << run->console;
  const std::string& out = run->script_output;

  // aether devices: both NICs listed with IDs, driver, group, verdict.
  EXPECT_THAT(out, HasSubstr("IOMMU: active; vfio-pci driver: loaded")) << out;
  EXPECT_THAT(out, ::testing::ContainsRegex("0000:00:03.0 +1af4:1041 020000 +virtio-pci +[0-9]+ ")) << out;
  EXPECT_THAT(out, ::testing::ContainsRegex("0000:00:04.0 +8086:10d3 020000 +e1000e +[0-9]+ ")) << out;
  EXPECT_THAT(out, HasSubstr("yes (virtio-net; `aether bind 0000:00:03.0` first)")) << out;
  EXPECT_THAT(out, HasSubstr("STEP devices rc=0"));

  // A device carrying the default route is refused without --force.
  EXPECT_THAT(out, ::testing::ContainsRegex("refusing to bind 0000:00:03.0: its interface eth[0-9] is up")) << out;
  EXPECT_THAT(out, HasSubstr("including the default route"));
  EXPECT_THAT(out, HasSubstr("STEP bind_in_use rc=1"));

  // virtio-net: bound, probed through the container path, given back.
  EXPECT_THAT(out, HasSubstr("0000:00:03.0: virtio-pci -> vfio-pci")) << out;
  EXPECT_THAT(out, HasSubstr("DRIVER 00:03.0 after bind: vfio-pci"));
  EXPECT_THAT(out, HasSubstr("using VFIO container/group")) << out;
  EXPECT_THAT(out, HasSubstr("/dev/iommu missing (kernel without IOMMUFD)"));
  EXPECT_THAT(out, HasSubstr("config: vendor:device 1af4:1041 (sysfs 1af4:1041) match"));
  EXPECT_THAT(out, HasSubstr("virtio: common bar4+0x0/0x1000, notify bar4+0x3000/0x1000 x4, isr bar4+0x1000/0x1000, "
                             "device bar4+0x2000/0x1000, msi-x cap at 0x98; inside their BARs"));
  // Feature negotiation through the mapped BAR (iommu_platform=on offers
  // ACCESS_PLATFORM); the MAC read from the device config is the one the
  // kernel driver reports once it has the device back.
  EXPECT_THAT(out, HasSubstr("driver accepted VERSION_1 ACCESS_PLATFORM MAC STATUS (0x300010020); FEATURES_OK kept"));
  EXPECT_THAT(out, HasSubstr("virtio: mac 52:54:00:12:34:56 link up"));
  EXPECT_THAT(out, HasSubstr("KERNEL MAC 00:03.0 52:54:00:12:34:56"));
  // Frames through Aether's virtio-net port (open_port("vfio:BDF"): the
  // backend, the driver's split virtqueues over pool buffers), DMA
  // translated by the IOMMU: an ARP request out, QEMU's gateway's reply
  // in; every buffer back in the pool after close.
  EXPECT_THAT(out, HasSubstr("virtio: port vfio:0000:00:03.0?mode=interrupt open: virtio-net modern, split queues "
                             "256, interrupt (receive MSI-X vector 0 to an eventfd), container/group, mac "
                             "52:54:00:12:34:56, link up"))
      << out;
  EXPECT_THAT(out, HasSubstr("virtio: transmitted ARP request (60 bytes) for 10.0.2.2")) << out;
  EXPECT_THAT(out, HasSubstr("virtio: ARP reply: 10.0.2.2 is at 52:55:0a:00:02:02")) << out;
  EXPECT_THAT(out, ::testing::ContainsRegex("virtio: port counters: rx [1-9][0-9]* \\([0-9]+ bytes\\), tx 1 \\(60 "
                                            "bytes\\); rx drops: no buffer 0, bad frame 0, truncated 0"))
      << out;
  EXPECT_THAT(out, HasSubstr("virtio: port closed, 1024 of 1024 buffers back in the pool")) << out;
  // The receive queue's MSI-X vector reached its eventfd (interrupt remapping on).
  EXPECT_THAT(out, ::testing::ContainsRegex("msix: receive queue interrupts on eventfd: [1-9]")) << out;
  // `aether echo vfio:BDF` runs the port (poll mode) and exits cleanly.
  EXPECT_THAT(out, HasSubstr("port vfio:0000:00:03.0: virtio-net modern, split queues 256, poll, container/group on "
                             "0000:00:03.0, mac 52:54:00:12:34:56, link up"))
      << out;
  EXPECT_THAT(out, HasSubstr("STEP echo_virtio rc=0")) << out;
  // Bus mastering taken away underneath the running echo: the fault is
  // reported with what to do, echo stops with 1, nothing crashes or
  // hangs, and the next open resets the device back into service.
  EXPECT_THAT(out, HasSubstr("BUS MASTER OFF 00:03.0 rc=0")) << out;
  EXPECT_THAT(out, HasSubstr("VIRTIO ECHO aether echo: device fault, stopped: 0000:00:03.0: virtio device_status reads "
                             "0x0b: the device lost DRIVER_OK"))
      << out;
  EXPECT_THAT(out, HasSubstr("STEP echo_fault_virtio rc=1")) << out;
  EXPECT_THAT(out, HasSubstr("STEP probe_virtio_again rc=0")) << out;

  // The IOMMU fences DMA: receive buffers at IOVAs never mapped. The guest
  // kernel reports the device's faulting write; no reply reaches Aether,
  // its receive memory keeps its canary, the probe exits cleanly, and the
  // device works again after a reset (the ARP exchange above ran after it).
  // Linux 7.2 prints the device with its PCI domain.
  EXPECT_THAT(out, HasSubstr("virtio: fault test: transmitted true, reply received false")) << out;
  EXPECT_THAT(out, HasSubstr("receive memory untouched"));
  EXPECT_THAT(out, HasSubstr("STEP fault_virtio rc=0"));
  EXPECT_THAT(out, ::testing::ContainsRegex("KERNEL LOG .*DMA Write.*Request device \\[(0000:)?00:03.0\\] fault addr"))
      << out;
  EXPECT_THAT(out, HasSubstr("dma: mapped 0x200000 bytes at IOVA 0x10000000 in VFIO container /dev/vfio/vfio"));
  EXPECT_THAT(out, HasSubstr("STEP probe_virtio rc=0")) << out;
  EXPECT_THAT(out, HasSubstr("0000:00:03.0: vfio-pci -> virtio-pci"));
  EXPECT_THAT(out, HasSubstr("DRIVER 00:03.0 after unbind: virtio-pci"));

  // e1000e: BAR 0 mapped, MSI-X routed, function reset, back to e1000e.
  EXPECT_THAT(out, HasSubstr("0000:00:04.0: e1000e -> vfio-pci"));
  EXPECT_THAT(out, HasSubstr("config: vendor:device 8086:10d3 (sysfs 8086:10d3) match"));
  EXPECT_THAT(out, HasSubstr("bar 0: mapped 0x20000 bytes"));
  EXPECT_THAT(out, HasSubstr("msix: 5 vectors offered, 1 routed to eventfd"));
  EXPECT_THAT(out, HasSubstr("reset: done"));
  // Aether's own bring-up: global reset, link up, MAC from RAL/RAH(0), the
  // one the kernel driver reports after unbind.
  EXPECT_THAT(out, HasSubstr("e1000e: reset, interrupts masked, mac 52:54:00:12:34:57, link up 1000 Mb/s full duplex"))
      << out;
  EXPECT_THAT(out, HasSubstr("KERNEL MAC 00:04.0 52:54:00:12:34:57"));
  // Legacy descriptor rings in DMA-mapped memory: ARP out, reply in.
  EXPECT_THAT(out, HasSubstr("e1000e: transmitted ARP request (60 bytes) for 10.0.2.2")) << out;
  EXPECT_THAT(out, HasSubstr("e1000e: ARP reply: 10.0.2.2 is at 52:55:0a:00:02:02")) << out;
  EXPECT_THAT(out, HasSubstr("STEP probe_e1000e rc=0")) << out;
  // ... through Aether's e1000e port (e1000e_driver in the driver table): 256-entry
  // rings, every buffer back in the pool after close.
  // The exchange in interrupt mode: the reply's MSI-X interrupt reached
  // the eventfd. The fault watch below runs polled.
  EXPECT_THAT(out, HasSubstr("e1000e: port vfio:0000:00:04.0?mode=interrupt open: e1000e 82574, legacy descriptors, "
                             "256/256, interrupt (rx: MSI-X vector 0 to an eventfd), mac 52:54:00:12:34:57, link up"))
      << out;
  EXPECT_THAT(out, ::testing::ContainsRegex("e1000e: receive queue interrupts on eventfd: [1-9]")) << out;
  EXPECT_THAT(out, HasSubstr("HOLD e1000e: port vfio:0000:00:04.0 open: e1000e 82574, legacy descriptors, 256/256, "
                             "poll, mac 52:54:00:12:34:57, link up"))
      << out;
  EXPECT_THAT(out, ::testing::ContainsRegex("e1000e: port counters: rx [1-9][0-9]* \\([0-9]+ bytes\\), tx 1 \\(60 "
                                            "bytes\\); rx drops: no buffer 0, bad frame 0, truncated 0"))
      << out;
  EXPECT_THAT(out, HasSubstr("e1000e: port closed, 1024 of 1024 buffers back in the pool")) << out;
  // Reset underneath the running port: reported, bursts stop, clean exit.
  EXPECT_THAT(out, HasSubstr("RESET 00:04.0 rc=0")) << out;
  // Whichever of the two enables the health check reads first (both are
  // cleared by the reset; seen: RCTL on 6.1, TCTL once on 6.12).
  EXPECT_THAT(out, ::testing::ContainsRegex("HOLD e1000e: device fault: 0000:00:04.0: [RT]CTL.EN found cleared"))
      << out;
  EXPECT_THAT(out, HasSubstr("HOLD e1000e: after the fault: rx_burst 0 tx_burst 0, link down")) << out;
  EXPECT_THAT(out, HasSubstr("HOLD e1000e: port closed, 1024 of 1024 buffers back in the pool")) << out;
  EXPECT_THAT(out, HasSubstr("STEP fault_e1000e rc=0")) << out;
  EXPECT_THAT(out, HasSubstr("DRIVER 00:04.0 after unbind: e1000e"));

  // Behind the PCI bridge the virtio NIC shares its IOMMU group with the
  // e1000: bind warns, the VFIO open names the e1000 and what to do.
  EXPECT_THAT(out, HasSubstr("0000:01:01.0: virtio-pci -> vfio-pci")) << out;
  EXPECT_THAT(out, HasSubstr("is not viable")) << out;
  EXPECT_THAT(out, HasSubstr("0000:01:02.0 (e1000)")) << out;
  EXPECT_THAT(out, HasSubstr("STEP probe_shared rc=1"));
  EXPECT_THAT(out, HasSubstr("DRIVER 01:01.0 after unbind: virtio-pci"));

  // Not a network controller: refused.
  EXPECT_THAT(out, HasSubstr("0000:00:05.0 is not a network controller")) << out;
  EXPECT_THAT(out, HasSubstr("STEP bind_bridge rc=1"));
}

INSTANTIATE_TEST_SUITE_P(Kernels, VfioGuest, ::testing::Values("bookworm", "bookworm-backports", "sid"),
                         [](const ::testing::TestParamInfo<const char*>& suite) {
                           std::string name = suite.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace aether::test
