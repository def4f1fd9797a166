// place_on_partition (placement.hpp): the partition's Aether CPUs for the
// workers, the cpuset joined, the control thread moved off the workers.
#include "aether/runtime/placement.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/core/thread_setup.hpp"
#include "aether/partition/host_access.hpp"
#include "aether/partition/journal_targets.hpp"
#include "aether/partition/worker_cpus.hpp"

namespace aether::runtime {
namespace {

std::vector<unsigned> without(const std::vector<unsigned>& cpus, std::vector<unsigned> removed) {
  std::sort(removed.begin(), removed.end());
  std::vector<unsigned> rest;
  std::set_difference(cpus.begin(), cpus.end(), removed.begin(), removed.end(), std::back_inserter(rest));
  return rest;
}

// PM QoS (Documentation/power/pm_qos_interface.rst): a process that opens
// /dev/cpu_dma_latency and writes a 32-bit value asks that no CPU enter an
// idle state slower than that many microseconds to leave; the request lasts
// until the file is closed, also by the process's death.
Result<UniqueFd> hold_cpu_dma_latency(std::int32_t microseconds) {
  const char* path = partition::cpu_dma_latency_path;
  UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(fmt::format("cannot open {} (needs root)", path));
  if (::write(fd.get(), &microseconds, sizeof microseconds) != static_cast<ssize_t>(sizeof microseconds)) {
    return errno_error(fmt::format("cannot write {} us to {}", microseconds, path));
  }
  return fd;
}

}  // namespace

Result<PartitionPlacement> place_on_partition(const PartitionRequest& request) {
  partition::HostAccess host;
  partition::WorkerCpuRequest cpu_request;
  cpu_request.workers = request.workers;
  cpu_request.requested = request.requested;
  cpu_request.requested_option = request.requested_option;
  cpu_request.journal_path = request.journal;
  auto placement = partition::aether_cpus_for_workers(host, cpu_request);
  if (!placement) return std::move(placement).error();
  if (auto joined = partition::join_partition_cpuset(host, *placement, getpid()); !joined) {
    return std::move(joined).error();
  }
  PartitionPlacement result;
  result.report.push_back(partition::describe_placement(*placement));
  for (const std::string& note : placement->notes) result.report.push_back("note: " + note);
  if (const auto microseconds = placement->cpu_dma_latency_us) {
    auto held = hold_cpu_dma_latency(*microseconds);
    if (held) {
      result.cpu_dma_latency = std::move(*held);
      result.report.push_back(fmt::format("holding {} at {} us while the workers run (the partition asks it)",
                                          partition::cpu_dma_latency_path, *microseconds));
    } else {
      result.report.push_back(fmt::format("note: the partition asks to hold {} at {} us, but {}: idle states stay "
                                          "as they are",
                                          partition::cpu_dma_latency_path, *microseconds, held.error().describe()));
    }
  }

  // The control thread (reporting, fault checks, telemetry) keeps off the
  // workers' CPUs where its cpuset lets it; threads created later inherit
  // this affinity until they pin themselves.
  auto allowed = allowed_cpus();
  if (!allowed) return std::move(allowed).error();
  result.control_cpus = without(*allowed, placement->aether_cpus);
  if (result.control_cpus.empty()) result.control_cpus = without(*allowed, placement->worker_cpus);
  if (result.control_cpus.empty()) {
    result.report.push_back(fmt::format("the control thread shares CPUs {} with the workers (no other CPU is allowed "
                                        "in the cpuset)",
                                        format_cpu_list(*allowed)));
  } else {
    if (result.control_cpus != *allowed) {
      if (auto moved = host.set_task_affinity(gettid(), result.control_cpus); !moved) return std::move(moved).error();
    }
    result.report.push_back(fmt::format("control thread on CPUs {}", format_cpu_list(result.control_cpus)));
  }
  result.worker_cpus = std::move(placement->worker_cpus);
  result.aether_cpus = std::move(placement->aether_cpus);
  return result;
}

}  // namespace aether::runtime
