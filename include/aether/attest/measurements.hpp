// What Aether measures into its PCR: the partition, the binary, its config,
// the IOMMU and every passthrough device. Each measurement is one event of
// canonical text (one fact per line, stable order) so that a policy mismatch
// can name the line that changed.
//
// Everything is read through partition::HostAccess, i.e. from the real /sys
// and /proc or from a fake tree in a test directory (the tamper suite uses a
// fake tree for what cannot be changed safely on a shared host: IRQs,
// cpusets, RT throttling, devices). Control path only.
//
// Events, in log order:
//   aether.binary        sha256 of the running executable
//   aether.config        sha256 of the config file, or "none"
//   partition.cmdline    /proc/cmdline (isolcpus=, nohz_full=, rcu_nocbs=, irqaffinity=, ...)
//   partition.cpus       online, isolated and nohz_full CPU lists from /sys/devices/system/cpu
//   partition.cpuset     cpuset partitions (v2) or exclusive cpusets (v1) and their CPUs
//   partition.irqs       smp_affinity_list of every IRQ, and the default mask
//   partition.rt         kernel.sched_rt_runtime_us / sched_rt_period_us
//   partition.workqueue  the unbound workqueue cpumask
//   partition.cpuidle    cpuidle driver, governor and each CPU's disabled states
//   iommu                units, groups and each group's translation type
//   device.<BDF>         one per passthrough device (device_measurement.hpp, driver_view.hpp)
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "aether/attest/digest.hpp"
#include "aether/attest/driver_view.hpp"
#include "aether/attest/event_log.hpp"
#include "aether/core/result.hpp"
#include "aether/partition/host_access.hpp"
#include "aether/vfio/pci_address.hpp"

namespace aether::attest {

struct MeasureOptions {
  partition::HostRoots roots;                      // /sys and /proc, or a fake tree
  std::filesystem::path binary = "/proc/self/exe";  // a real path, never under a fake root
  std::optional<Sha256> binary_digest;              // already hashed (watch): skip reading it again
  std::filesystem::path config;                     // empty: no config file
  // Devices to measure besides every function bound to vfio-pci; a device
  // listed here is measured whatever its driver (a rebind shows).
  std::vector<vfio::PciAddress> devices;
  // Reads what Aether's driver reads from a vfio-bound device (MAC, virtio
  // features, e1000e NVM checksum: driver_view.hpp). Empty: the real read
  // through VFIO below roots.sysfs. Tests on a fake tree give the device's
  // answers here, since a fake tree has no device behind it.
  DriverViewReader driver_view_reader;
};

// Reads and measures everything listed above. Fails only when a file that
// must exist cannot be read (the binary, the config, a listed device's
// config space); optional kernel files absent on this host read as "absent".
Result<EventLog> measure_host(const MeasureOptions& options);

// After a quote: every device the log measured is still there (its sysfs
// directory and IDs read). The Error names the first one that disappeared
// between measurement and quote; the quote must then not be used.
Result<void> check_devices_still_present(const EventLog& log, const MeasureOptions& options);

}  // namespace aether::attest
