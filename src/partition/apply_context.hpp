// What the apply steps share: the host, the journal, the report, the CPU
// sets, and the two journaled mutations. Private to the partition module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aether/partition/apply.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/host_access.hpp"
#include "aether/partition/journal.hpp"
#include "aether/partition/kernel_version.hpp"
#include "aether/partition/knobs.hpp"

namespace aether::partition::detail {

struct ApplyContext {
  HostAccess& host;
  Journal& journal;
  ApplyReport& report;
  KernelVersion kernel;
  std::vector<unsigned> aether;
  std::vector<unsigned> housekeeping;
  unsigned cpu_count = 1;  // nr_cpu_ids: last possible CPU + 1 (width of hex masks)

  // Writes `value` to `path` unless it already reads `value`; before writing,
  // journals the current content (or `previous` when given) unless the file
  // lies in a directory apply created (removing the directory undoes it) or
  // the journal already has the original.
  Result<void> change_file(const std::string& path, std::string_view value,
                           const std::optional<std::string>& previous = std::nullopt);
  // Journals, then creates `path`; a directory that already exists is left
  // as it is (and, unless apply created it earlier, its files are journaled
  // by change_file like any other).
  Result<void> create_directory(const std::string& path);
};

// Step 2 of apply.hpp: the cgroup v2 partition or the cgroup v1 cpusets.
Result<void> apply_cpuset(ApplyContext& context, const CgroupMounts& mounts);

// Step 0 of apply.hpp: RT throttling, timer migration, vmstat interval,
// idle states.
Result<void> apply_knobs(ApplyContext& context, const KnobChoices& choices);

}  // namespace aether::partition::detail
