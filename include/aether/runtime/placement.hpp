// Where a runtime's threads run. With partition placement the workers take
// the partition's Aether CPUs (include/aether/partition/worker_cpus.hpp: the
// apply journal, else the kernel's isolated CPUs, else its nohz_full CPUs),
// the process joins the partition's cpuset if apply made one, and the
// calling (control) thread moves off the workers' CPUs. When the partition
// asks for it (`aether partition apply` without --keep-idle-states), the
// placement also holds /dev/cpu_dma_latency at 0 for as long as it lives:
// PM QoS keeps every CPU out of idle states slower than that, so a worker
// that sleeps on an interrupt wakes without a deep state's exit latency
// (Documentation/power/pm_qos_interface.rst). The `aether` CLI's
// --partition and Runtime::create both call place_on_partition.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/core/unique_fd.hpp"
#include "aether/partition/journal.hpp"

namespace aether::runtime {

struct PartitionRequest {
  std::size_t workers = 1;  // CPUs needed, one per worker
  // CPUs the user named, one per worker, each an Aether CPU. Empty: the
  // first `workers` Aether CPUs.
  std::vector<unsigned> requested;
  std::string requested_option = "--cpu";  // names the option or key in errors
  std::filesystem::path journal = partition::default_journal_path;
};

struct PartitionPlacement {
  std::vector<unsigned> worker_cpus;   // one per worker, in the order asked
  std::vector<unsigned> aether_cpus;   // every online Aether CPU, sorted
  // Where the control thread now runs: the host CPUs it may use, else Aether
  // CPUs no worker takes; empty when it must share the workers' CPUs (the
  // cpuset allows nothing else).
  std::vector<unsigned> control_cpus;
  // /dev/cpu_dma_latency, open with the partition's value written to it; the
  // request ends when this closes (or the process dies). Invalid when the
  // partition does not ask for it or it could not be opened (then a report
  // line says why).
  UniqueFd cpu_dma_latency;
  // For people, one line each: the CPUs and where they came from, the
  // partition's notes, where the control thread went.
  std::vector<std::string> report;
};

// Finds the Aether CPUs, picks the workers' CPUs, joins the partition's
// cpuset (all threads of this process) and moves the calling thread to the
// control CPUs; holds /dev/cpu_dma_latency if the partition says so.
// Errors: no partition (says how to make one), an unfinished
// apply, fewer Aether CPUs than workers, a requested CPU that is not an
// Aether CPU, a cpuset the process may not join (needs root).
[[nodiscard]] Result<PartitionPlacement> place_on_partition(const PartitionRequest& request);

}  // namespace aether::runtime
