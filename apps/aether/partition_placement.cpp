// `--partition` for the data-plane commands (see partition_placement.hpp).
#include "partition_placement.hpp"

#include <unistd.h>

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/core/thread_setup.hpp"
#include "aether/partition/host_access.hpp"
#include "aether/partition/worker_cpus.hpp"

namespace aether::cli {
namespace {

std::vector<unsigned> without(const std::vector<unsigned>& cpus, std::vector<unsigned> removed) {
  std::sort(removed.begin(), removed.end());
  std::vector<unsigned> rest;
  std::set_difference(cpus.begin(), cpus.end(), removed.begin(), removed.end(), std::back_inserter(rest));
  return rest;
}

}  // namespace

void add_partition_options(CLI::App& command, PartitionPlacementOptions& options) {
  command.add_flag("--partition", options.enabled,
                   "Put the workers on the Aether CPUs: those of the partition `aether partition apply` made (its "
                   "journal), else the kernel's isolated, else its nohz_full CPUs; joins the partition's cpuset");
  command.add_option("--partition-journal", options.journal, "Apply journal --partition reads")->capture_default_str();
}

Result<std::vector<unsigned>> place_workers_on_partition(const PartitionPlacementOptions& options,
                                                         const std::vector<unsigned>& requested,
                                                         std::string_view requested_option, std::size_t workers,
                                                         std::string_view command) {
  partition::HostAccess host;
  partition::WorkerCpuRequest request;
  request.workers = workers;
  request.requested = requested;
  request.requested_option = std::string(requested_option);
  request.journal_path = options.journal;
  auto placement = partition::aether_cpus_for_workers(host, request);
  if (!placement) return std::move(placement).error();
  if (auto joined = partition::join_partition_cpuset(host, *placement, getpid()); !joined) {
    return std::move(joined).error();
  }
  fmt::print(stderr, "{}: --partition: {}\n", command, partition::describe_placement(*placement));
  for (const std::string& note : placement->notes) fmt::print(stderr, "{}: --partition: note: {}\n", command, note);

  // The control thread (rates once a second, the bench's bookkeeping) keeps
  // off the workers' CPUs where its cpuset lets it; threads created later
  // inherit this affinity until they pin themselves.
  auto allowed = allowed_cpus();
  if (!allowed) return std::move(allowed).error();
  std::vector<unsigned> control = without(*allowed, placement->aether_cpus);
  if (control.empty()) control = without(*allowed, placement->worker_cpus);
  if (control.empty()) {
    fmt::print(stderr, "{}: --partition: the control thread shares CPUs {} with the workers (no other CPU is "
               "allowed in the cpuset)\n", command, format_cpu_list(*allowed));
  } else if (control != *allowed) {
    if (auto moved = host.set_task_affinity(gettid(), control); !moved) return std::move(moved).error();
  }
  if (!control.empty()) fmt::print(stderr, "{}: --partition: control thread on CPUs {}\n", command, format_cpu_list(control));
  return std::move(placement->worker_cpus);
}

}  // namespace aether::cli
