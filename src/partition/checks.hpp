// What the status checks look at, gathered once, and the check groups.
// Private to the partition module.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "aether/core/cpu_topology.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/irq.hpp"
#include "aether/partition/journal.hpp"
#include "aether/partition/kernel_version.hpp"
#include "aether/partition/knobs.hpp"
#include "aether/partition/status.hpp"
#include "aether/partition/tasks.hpp"

namespace aether::partition::detail {

struct StatusInputs {
  KernelVersion kernel;
  HostCpus cpus;
  IrqTable irqs;
  CpusetState cpusets;
  std::vector<TaskInfo> tasks;
  HostKnobs knobs;
  std::optional<JournalContents> journal;
  std::string journal_path;
  std::optional<std::string> journal_error;  // the journal exists but cannot be read
  std::optional<std::string> journal_other_boot;  // the journal is from another boot (why): not in effect
  std::vector<unsigned> aether;              // the Aether CPUs (may be empty)
  std::string aether_source;
  std::vector<unsigned> housekeeping;     // online CPUs that are not Aether CPUs
  std::vector<unsigned> cpuset_isolated;  // cpusets.isolated_cpus()
  bool nohz_full_file = false;            // /sys/devices/system/cpu/nohz_full exists (CONFIG_NO_HZ_FULL)
  std::optional<std::string> irq_error;   // why the IRQ table could not be read
};

// Boot-time isolation: kernel, Aether CPUs, command line, sysfs, SMT.
void check_boot(const StatusInputs& inputs, std::vector<Check>& checks);
// Run-time state: IRQs, cpusets, tasks, workqueues, the apply journal.
void check_runtime(const StatusInputs& inputs, std::vector<Check>& checks);
// Knobs: RT throttling, timers, vmstat, THP, huge pages, cpufreq, cpuidle, IOMMU.
void check_knobs(const StatusInputs& inputs, std::vector<Check>& checks);

// "a, b, c and 4 more" from names, at most `shown` of them.
std::string name_some(const std::vector<std::string>& names, std::size_t shown = 6);

}  // namespace aether::partition::detail
