// `--partition` for the data-plane commands (see partition_placement.hpp);
// the placement itself is the runtime library's (aether/runtime/placement.hpp).
#include "partition_placement.hpp"

#include <fmt/format.h>

#include "aether/runtime/placement.hpp"

namespace aether::cli {

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
  runtime::PartitionRequest request;
  request.workers = workers;
  request.requested = requested;
  request.requested_option = std::string(requested_option);
  request.journal = options.journal;
  auto placement = runtime::place_on_partition(request);
  if (!placement) return std::move(placement).error();
  for (const std::string& line : placement->report) fmt::print(stderr, "{}: --partition: {}\n", command, line);
  // The PM QoS request is the process's for the rest of its life: the
  // commands run their workers until they exit, and the kernel drops the
  // request with the descriptor, however the process ends.
  static UniqueFd cpu_dma_latency;
  cpu_dma_latency = std::move(placement->cpu_dma_latency);
  return std::move(placement->worker_cpus);
}

}  // namespace aether::cli
