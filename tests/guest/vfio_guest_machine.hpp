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

}  // namespace aether::test
