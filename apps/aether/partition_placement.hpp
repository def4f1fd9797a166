// `--partition` for the data-plane commands (echo, fwd, bench latency,
// bench throughput): their workers go to the Aether CPUs
// (include/aether/partition/worker_cpus.hpp says where those come from).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "aether/core/result.hpp"
#include "aether/partition/journal.hpp"

namespace aether::cli {

struct PartitionPlacementOptions {
  bool enabled = false;  // --partition
  std::string journal = partition::default_journal_path;
};

// Adds --partition and --partition-journal to `command`.
void add_partition_options(CLI::App& command, PartitionPlacementOptions& options);

// Finds the Aether CPUs and takes `workers` of them (`requested`: the CPUs
// given with `requested_option` too, each of which must be an Aether CPU),
// prints them and where they came from on stderr, prefixed by `command`;
// joins the partition's cpuset if apply made one; and moves the calling
// (control) thread off the workers' CPUs: to the host CPUs it may use, else
// to Aether CPUs no worker takes, else it stays (cgroup v2 then shares the
// workers' CPUs: the process joined as a whole). Returns the workers' CPUs
// in the order asked.
Result<std::vector<unsigned>> place_workers_on_partition(const PartitionPlacementOptions& options,
                                                         const std::vector<unsigned>& requested,
                                                         std::string_view requested_option, std::size_t workers,
                                                         std::string_view command);

}  // namespace aether::cli
