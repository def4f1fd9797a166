// Binding a PCI function to vfio-pci and giving it back, with
// driver_override (Documentation/ABI/testing/sysfs-bus-pci):
//   bind:   echo vfio-pci > <dev>/driver_override; echo BDF > <dev>/driver/unbind;
//           echo BDF > /sys/bus/pci/drivers_probe
//   unbind: echo > <dev>/driver_override; echo BDF > <dev>/driver/unbind;
//           echo BDF > /sys/bus/pci/drivers_probe
// The original driver is remembered in a state file (<state_dir>/<BDF>) so
// that unbind can check it came back.
#pragma once

#include <chrono>
#include <string>

#include "aether/core/result.hpp"
#include "aether/vfio/pci_address.hpp"

namespace aether::vfio {

struct BindingOptions {
  std::string sysfs_root = "/sys";
  std::string proc_root = "/proc";
  std::string state_dir = "/run/aether/vfio-bind";
  // Take the device although a netdev of it is up and carries routes.
  bool force = false;
  // How long to wait for the kernel to finish probing after drivers_probe.
  std::chrono::milliseconds settle_time{3000};
};

struct BindingChange {
  std::string previous_driver;  // empty: no driver was bound
  std::string current_driver;
  bool changed = false;         // false: it was already in the wanted state
};

// Errors: not a network function, vfio-pci not loaded, a netdev is up with
// routes (without force), a sysfs write failed, or the device did not end
// up on vfio-pci. Each names the device and the file.
[[nodiscard]] Result<BindingChange> bind_to_vfio(const PciAddress& address, const BindingOptions& options = {});

// Gives the device back to the kernel driver that had it before bind
// (from the state file; without one, whichever driver the kernel probes).
[[nodiscard]] Result<BindingChange> unbind_from_vfio(const PciAddress& address, const BindingOptions& options = {});

}  // namespace aether::vfio
