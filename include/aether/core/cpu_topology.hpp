// What the host says about its CPUs: topology and isolation, read from sysfs
// and the kernel command line. Control path only.
//
// Sources (Documentation/ABI/testing/sysfs-devices-system-cpu,
// Documentation/admin-guide/cputopology.rst, kernel-parameters.txt):
//   /sys/devices/system/cpu/possible, online         required
//   /sys/devices/system/cpu/isolated                 optional (isolcpus= domain CPUs)
//   /sys/devices/system/cpu/nohz_full                optional (absent without CONFIG_NO_HZ_FULL)
//   /sys/devices/system/cpu/cpuN/online              optional (absent for CPUs that cannot be
//                                                    hot-unplugged, typically cpu0)
//   /sys/devices/system/cpu/cpuN/topology/{thread_siblings_list,core_id,physical_package_id}
//                                                    optional (absent for offline CPUs on
//                                                    most kernels)
//   /sys/devices/system/cpu/cpuN/nodeM               symlink naming the NUMA node, else
//   /sys/devices/system/node/nodeM/cpulist           is consulted
//   /proc/cmdline                                    optional; isolcpus=, nohz_full=,
//                                                    rcu_nocbs=, irqaffinity=
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "aether/core/result.hpp"

namespace aether {

struct CpuInfo {
  unsigned id = 0;
  bool online = false;
  std::vector<unsigned> smt_siblings;  // thread_siblings_list, this CPU included; empty if unknown
  int numa_node = -1;                  // -1: unknown
  int core_id = -1;                    // -1: unknown
  int package_id = -1;                 // -1: unknown
};

struct HostCpus {
  std::vector<CpuInfo> cpus;  // one per possible CPU, by ascending id
  std::vector<unsigned> possible, online;
  std::vector<unsigned> isolated;   // sysfs "isolated"; empty if absent
  std::vector<unsigned> nohz_full;  // sysfs "nohz_full"; empty if absent

  // Parsed from the kernel command line. The kernel ignores everything after
  // "--" (it goes to init), and so does this parser. When a parameter is given
  // more than once, the last one is reported.
  std::vector<unsigned> cmdline_isolcpus;
  // The flag prefix of isolcpus= as written, without its trailing comma, e.g.
  // "managed_irq,domain" or "nohz,domain"; empty if none (the kernel then
  // applies "domain"; kernel/sched/isolation.c, housekeeping_isolcpus_setup()).
  std::string cmdline_isolcpus_flags;
  std::vector<unsigned> cmdline_nohz_full;
  std::vector<unsigned> cmdline_rcu_nocbs;  // "rcu_nocbs" without "=" gives an empty list
  std::string cmdline_irqaffinity_raw;      // the irqaffinity= value, unparsed
  std::string kernel_cmdline;               // /proc/cmdline without the trailing newline

  // The CPU with this id, or nullptr.
  const CpuInfo* find(unsigned id) const;
};

// Reads the description above from the given roots (tests pass fake trees).
// Missing optional files leave their fields empty / -1. Errors name the file
// and the value at fault, e.g.
//   /sys/devices/system/cpu/cpu3/topology/core_id: "x1" is not a number
// CPU lists on the kernel command line may use "N" (the last possible CPU).
Result<HostCpus> read_host_cpus(const std::filesystem::path& sysfs_root = "/sys",
                                const std::filesystem::path& proc_root = "/proc");

}  // namespace aether
