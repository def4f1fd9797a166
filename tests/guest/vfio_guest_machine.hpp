// The devices of the VFIO guest tests (vfio_guest_test.cpp,
// vfio_cdev_guest_test.cpp), as QEMU arguments for GuestOptions::extra_qemu_args:
//   00:03.0  virtio-net, modern only, behind the IOMMU (iommu_platform=on),
//            on QEMU's user network (answers ARP for 10.0.2.2, needs no
//            privileges); MAC 52:54:00:12:34:56
//   00:04.0  Intel 82574 (e1000e) on its own user network; MAC 52:54:00:12:34:57
//   00:05.0  a conventional PCI bridge: everything behind it shares one
//            IOMMU group, so
//   01:01.0  a virtio-net next to
//   01:02.0  an e1000 makes a group that is not viable while the e1000 has
//            its kernel driver.
#pragma once

#include <string>
#include <vector>

#include "guest_vm.hpp"

namespace aether::test {

inline std::vector<std::string> vfio_guest_devices() {
  return {
      "-netdev", "user,id=user0",
      "-device", "virtio-net-pci,disable-legacy=on,iommu_platform=on,addr=03.0,netdev=user0",
      "-netdev", "user,id=user1",
      "-device", "e1000e,addr=04.0,netdev=user1",
      "-device", "pci-bridge,id=bridge1,chassis_nr=1,addr=05.0",
      "-device", "virtio-net-pci,disable-legacy=on,iommu_platform=on,bus=bridge1,addr=01.0",
      "-device", "e1000,bus=bridge1,addr=02.0",
  };
}

// Two NICs wired to each other through one QEMU hub (hubports h0 and h1 of
// hub 0), so that what one sends the other receives, for the tests that run
// Aether's drivers on both ends (vfio_bench_guest_test.cpp,
// vfio_contract_guest_test.cpp):
//   00:03.0  virtio-net, modern only, iommu_platform=on; MAC 52:54:00:12:34:56
//   00:04.0  Intel 82574 (e1000e); MAC 52:54:00:12:34:57
inline std::vector<std::string> vfio_hub_pair_devices() {
  return {
      "-netdev", "hubport,id=h0,hubid=0",
      "-netdev", "hubport,id=h1,hubid=0",
      "-device", "virtio-net-pci,disable-legacy=on,iommu_platform=on,netdev=h0,addr=03.0,mac=52:54:00:12:34:56",
      "-device", "e1000e,netdev=h1,addr=04.0,mac=52:54:00:12:34:57",
  };
}

// A guest with the hub pair: bookworm, 3 vCPUs (two workers and the shell),
// 768 MiB, the static CLI `static_cli` as /usr/local/bin/aether, the VFIO and
// NIC modules, `script`, a 300 s limit.
inline GuestOptions vfio_hub_pair_guest(const std::string& static_cli, std::string script) {
  GuestOptions options;
  options.kernel = "bookworm";
  options.cpus = 3;
  options.memory_mib = 768;
  options.files.emplace_back(static_cli, "/usr/local/bin/aether");
  options.modules = {"vfio", "vfio_pci", "vfio_iommu_type1", "virtio_pci", "virtio_net", "e1000e"};
  options.extra_qemu_args = vfio_hub_pair_devices();
  options.script = std::move(script);
  options.timeout = std::chrono::seconds(300);
  return options;
}

}  // namespace aether::test
