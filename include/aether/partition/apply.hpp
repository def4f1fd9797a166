// `aether partition apply`: the run-time part of the partition, reversibly.
//
// Steps, in this order (each previous value is journaled and fsync'ed before
// its change; see journal.hpp; docs/partition.md has the reasons):
//   0. the latency knobs (knobs.hpp), each where the kernel has it:
//      kernel.sched_rt_runtime_us = -1 (no RT throttling; unless
//      keep_rt_throttling), kernel.timer_migration = 0, vm.stat_interval =
//      10 if shorter, and (unless keep_idle_states) every idle state of the
//      Aether CPUs slower than deep_idle_exit_latency_us to leave disabled
//      (cpuN/cpuidle/stateK/disable = 1) and a `hold /dev/cpu_dma_latency =0`
//      record, which --partition workers honour while they run
//      (runtime/placement.hpp). First: they depend on nothing below, and so
//      a kill -9 after apply's first few changes lands among them (the
//      guest test kills there);
//   1. journal the affinity of every task allowed on both Aether and host
//      CPUs, and, when step 2 runs, of every movable task: cpuset moves and
//      cpuset CPU changes reset affinities as a side effect;
//   2. cpuset partition, unless the Aether CPUs are boot-isolated already
//      (isolcpus=domain; 6.12 refuses a partition over them): other cpusets
//      holding Aether CPUs lose them, deepest first; then cgroup v2
//      <mount>/aether with cpuset.cpus = Aether CPUs and cpuset.cpus.partition
//      = isolated (root before 6.1), after enabling +cpuset in the root's
//      cgroup.subtree_control if needed; or cgroup v1 <mount>/aether
//      (cpu_exclusive=1, sched_load_balance=0) and <mount>/aether-housekeeping
//      (the host CPUs) receiving the top cpuset's tasks, then the top cpuset's
//      sched_load_balance=0 (cgroup-v1/cpusets.rst 1.7);
//   3. every journaled task gets its own CPUs minus the Aether CPUs
//      (sched_setaffinity); per-CPU kthreads (PF_NO_SETAFFINITY) and tasks
//      confined to Aether CPUs are left alone, refusals are counted;
//   4. every IRQ allowed on an Aether CPU gets its CPUs minus the Aether CPUs
//      (or all host CPUs); managed IRQs are refused by the kernel with
//      EIO/EPERM and listed;
//   5. /proc/irq/default_smp_affinity = host CPUs;
//   6. /sys/devices/virtual/workqueue/cpumask = host CPUs, if it includes an
//      Aether CPU (the journal keeps cpumask_requested where it exists, i.e.
//      what the user asked for rather than what the kernel derived);
//   7. vm.nr_hugepages, if asked;
//   then the journal is marked complete.
// Running it again changes nothing that is right already and keeps the
// journal's original values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/partition/host_access.hpp"
#include "aether/partition/journal.hpp"
#include "aether/partition/knobs.hpp"

namespace aether::partition {

struct ApplyOptions {
  std::vector<unsigned> aether_cpus;
  bool allow_smt_split = false;
  std::filesystem::path journal_path = default_journal_path;
  std::optional<std::uint64_t> hugepages;  // vm.nr_hugepages
  KnobChoices knobs;                       // step 0: what to leave alone
};

struct ApplyReport {
  std::vector<unsigned> aether_cpus;
  std::vector<unsigned> housekeeping_cpus;
  std::filesystem::path journal_path;
  std::vector<std::string> done;      // one line per step taken
  std::vector<std::string> warnings;  // steps that did not fully work
  unsigned tasks_moved = 0;
  unsigned tasks_per_cpu_kthreads = 0;     // left alone: the kernel pins them
  unsigned tasks_confined = 0;             // left alone: allowed only on Aether CPUs
  unsigned tasks_gone = 0;                 // exited during apply
  std::vector<std::string> tasks_refused;  // "name[tid]: reason"
  unsigned irqs_moved = 0;
  std::vector<unsigned> irqs_managed;    // refused with EIO/EPERM
  std::vector<std::string> irqs_failed;  // other errors
  unsigned changes_journaled = 0;        // new journal records of this run
  unsigned idle_states_disabled = 0;     // step 0, on the Aether CPUs
};

// Validates the CPUs (validate_aether_cpus), opens the journal and applies.
// An Error means apply stopped; what it changed until then is journaled, so
// `revert` (or apply again) is always possible.
Result<ApplyReport> apply_partition(HostAccess& host, const ApplyOptions& options);

std::string format_apply_report(const ApplyReport& report);

}  // namespace aether::partition
