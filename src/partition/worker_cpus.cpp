// `--partition`: the Aether CPUs for the data plane's workers, and the
// partition's cpuset to join (see worker_cpus.hpp).
#include "aether/partition/worker_cpus.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aether/core/cpu_list.hpp"
#include "aether/core/cpu_topology.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/journal_targets.hpp"
#include "cpu_set_ops.hpp"

namespace aether::partition {
namespace {

// The name apply gives the Aether cpuset below the hierarchy's root
// (apply_cpuset.cpp).
constexpr std::string_view aether_cgroup = "aether";

constexpr const char* how_to_partition =
    "make a partition first: `aether partition plan --aether-cpus LIST` prints the boot parameters, "
    "`aether partition apply --aether-cpus LIST` makes the run-time part (as root); or drop --partition";

// The cpuset apply made for `cpus`, if it is there: the same hierarchy
// choice as apply_cpuset() (v2 with the cpuset controller, else v1), and
// the directory's cpuset.cpus must be exactly the Aether CPUs: a leftover
// "aether" cgroup of another partition is not ours to join.
std::optional<std::string> find_partition_cpuset(const HostAccess& host, const std::vector<unsigned>& cpus,
                                                 std::vector<std::string>& notes) {
  const CgroupMounts mounts = find_cgroup_mounts(host);
  std::optional<std::string> root;
  if (mounts.v2 && mounts.v2_has_cpuset) {
    root = mounts.v2;
  } else if (mounts.v1_cpuset) {
    root = mounts.v1_cpuset;
  }
  if (!root) return std::nullopt;
  const std::string directory = fmt::format("{}/{}", *root, aether_cgroup);
  if (!host.is_directory(directory)) return std::nullopt;
  const auto text = host.read_trimmed(directory + "/cpuset.cpus");
  const bool same = text && [&] {
    auto listed = parse_cpu_list(*text);
    return listed && *listed == cpus;
  }();
  if (!same) {
    notes.push_back(fmt::format("{} lists CPUs {}, not the journal's {}: not joined", directory,
                                text.value_or("(unreadable)"), format_cpu_list(cpus)));
    return std::nullopt;
  }
  if (const auto state = host.read_trimmed(directory + "/cpuset.cpus.partition");
      state && state->find("invalid") != std::string::npos) {
    notes.push_back(fmt::format("{}/cpuset.cpus.partition reads \"{}\": the CPUs are not isolated (see `aether "
                                "partition status`)",
                                directory, *state));
  }
  return directory;
}

struct Found {
  std::vector<unsigned> cpus;
  std::string source;
  std::optional<std::string> cpuset;
  std::optional<std::int32_t> cpu_dma_latency_us;
};

// The journal's `hold /dev/cpu_dma_latency =N` record (apply_knobs.cpp).
std::optional<std::int32_t> latency_hold_of(const JournalContents& contents) {
  for (const JournalRecord& record : contents.records) {
    if (record.kind != JournalRecordKind::hold || record.path != cpu_dma_latency_path) continue;
    std::int32_t microseconds = 0;
    const char* end = record.previous.data() + record.previous.size();
    const auto [last, error] = std::from_chars(record.previous.data(), end, microseconds);
    if (error == std::errc{} && last == end && microseconds >= 0) return microseconds;
  }
  return std::nullopt;
}

// Step 1 of worker_cpus.hpp: the apply journal.
Result<std::optional<Found>> from_journal(const HostAccess& host, const std::filesystem::path& path,
                                          std::vector<std::string>& notes) {
  if (path.empty()) return std::optional<Found>{};
  auto journal = read_journal(path);
  if (!journal) {
    return Error{journal.error().code,
                 fmt::format("{} (the apply journal); run `aether partition revert` and apply again",
                             journal.error().message)};
  }
  if (!*journal || (*journal)->header.aether_cpus.empty()) return std::optional<Found>{};
  const JournalContents& contents = **journal;
  const std::string cpus = format_cpu_list(contents.header.aether_cpus);
  if (const auto other_boot = journal_boot_mismatch(contents.header, read_boot_identity(host))) {
    return invalid_argument(fmt::format(
        "--partition: the apply journal {} is from another boot ({}): the partition it describes (CPUs {}) was "
        "undone by the reboot, so no worker is placed from it; run `aether partition revert` (it restores nothing "
        "and removes the journal), then `aether partition apply --aether-cpus {}` again, or drop --partition",
        path.native(), *other_boot, cpus, cpus));
  }
  if (!contents.complete) {
    return invalid_argument(fmt::format(
        "{}: the partition for CPUs {} was not finished (apply was interrupted or failed): run `aether partition "
        "apply --aether-cpus {}` again (it is idempotent) or `aether partition revert`",
        path.native(), cpus, cpus));
  }
  Found found{contents.header.aether_cpus, fmt::format("the apply journal {}", path.native()), std::nullopt,
              latency_hold_of(contents)};
  found.cpuset = find_partition_cpuset(host, found.cpus, notes);
  return std::optional<Found>{std::move(found)};
}

// Steps 2 and 3: what the kernel isolates.
std::optional<Found> from_kernel(const HostCpus& cpus, std::vector<std::string>& notes) {
  if (!cpus.isolated.empty()) {
    return Found{cpus.isolated, "/sys/devices/system/cpu/isolated", std::nullopt, std::nullopt};
  }
  if (!cpus.nohz_full.empty()) {
    notes.push_back(fmt::format(
        "CPUs {} are nohz_full but not isolated: the scheduler still balances tasks onto them; `aether partition "
        "apply --aether-cpus {}` takes tasks and IRQs off them",
        format_cpu_list(cpus.nohz_full), format_cpu_list(cpus.nohz_full)));
    return Found{cpus.nohz_full, "/sys/devices/system/cpu/nohz_full", std::nullopt, std::nullopt};
  }
  return std::nullopt;
}

Result<std::vector<unsigned>> pick_workers(const WorkerPlacement& placement, const WorkerCpuRequest& request) {
  const std::string aether = format_cpu_list(placement.aether_cpus);
  if (!request.requested.empty()) {
    for (unsigned cpu : request.requested) {
      if (!std::binary_search(placement.aether_cpus.begin(), placement.aether_cpus.end(), cpu)) {
        return invalid_argument(fmt::format(
            "{} {}: CPU {} is not an Aether CPU (the Aether CPUs are {}, from {}); with --partition name Aether CPUs "
            "only, or leave {} out to take the first {}",
            request.requested_option, format_cpu_list(request.requested), cpu, aether, placement.source,
            request.requested_option, request.workers == 1 ? "one" : std::to_string(request.workers)));
      }
    }
    if (request.requested.size() != request.workers) {
      return invalid_argument(fmt::format("{} {}: {} CPUs named, {} needed (one per worker)", request.requested_option,
                                          format_cpu_list(request.requested), request.requested.size(),
                                          request.workers));
    }
    return request.requested;
  }
  if (placement.aether_cpus.size() < request.workers) {
    return invalid_argument(fmt::format(
        "--partition: {} worker CPUs needed (one per worker), but there {} only {} Aether CPU{} ({}, from {}): "
        "make a partition of at least {} CPUs (`aether partition apply --aether-cpus LIST`), or drop --partition",
        request.workers, placement.aether_cpus.size() == 1 ? "is" : "are", placement.aether_cpus.size(),
        placement.aether_cpus.size() == 1 ? "" : "s", aether, placement.source, request.workers));
  }
  return std::vector<unsigned>(placement.aether_cpus.begin(),
                               placement.aether_cpus.begin() + static_cast<std::ptrdiff_t>(request.workers));
}

}  // namespace

Result<WorkerPlacement> aether_cpus_for_workers(const HostAccess& host, const WorkerCpuRequest& request) {
  if (request.workers == 0) return invalid_argument("--partition: no workers to place");
  auto host_cpus = read_host_cpus(host.roots().sysfs, host.roots().proc);
  if (!host_cpus) return std::move(host_cpus).error();

  WorkerPlacement placement;
  auto journaled = from_journal(host, request.journal_path, placement.notes);
  if (!journaled) return std::move(journaled).error();
  std::optional<Found> found = std::move(*journaled);
  if (!found) found = from_kernel(*host_cpus, placement.notes);
  if (!found) {
    return invalid_argument(fmt::format(
        "--partition: no Aether CPUs: no apply journal at {}, and the kernel isolates no CPU "
        "(/sys/devices/system/cpu/isolated and nohz_full list none); {}",
        request.journal_path.native(), how_to_partition));
  }

  placement.aether_cpus = detail::cpu_intersection(found->cpus, host_cpus->online);
  placement.source = std::move(found->source);
  placement.cpuset = std::move(found->cpuset);
  placement.cpu_dma_latency_us = found->cpu_dma_latency_us;
  if (const auto offline = detail::cpu_difference(found->cpus, host_cpus->online); !offline.empty()) {
    placement.notes.push_back(
        fmt::format("Aether CPUs {} are offline: left out", format_cpu_list(offline)));
  }
  if (placement.aether_cpus.empty()) {
    return invalid_argument(fmt::format("--partition: the Aether CPUs {} (from {}) are all offline; {}",
                                        format_cpu_list(found->cpus), placement.source, how_to_partition));
  }
  auto workers = pick_workers(placement, request);
  if (!workers) return std::move(workers).error();
  placement.worker_cpus = std::move(*workers);
  return placement;
}

Result<void> join_partition_cpuset(HostAccess& host, const WorkerPlacement& placement, pid_t pid) {
  if (!placement.cpuset) return {};
  // cgroup.procs takes a process id and moves all its threads, in v2 and in
  // v1 (cgroup-v1/cgroups.rst 1.5: "cgroup.procs ... writing a thread group
  // id moves all threads"). A process already there is moved to itself.
  const std::string file = *placement.cpuset + "/cgroup.procs";
  if (auto written = host.write(file, std::to_string(pid)); !written) {
    return Error{written.error().code,
                 fmt::format("--partition: cannot join the partition's cpuset, whose CPUs no other task may use: {}; "
                             "run as root",
                             written.error().describe())};
  }
  return {};
}

std::string describe_placement(const WorkerPlacement& placement) {
  // In the workers' order (bench: generator, responder), not sorted.
  std::string line = fmt::format("worker CPU{} {} of the Aether CPUs {} (from {})",
                                 placement.worker_cpus.size() == 1 ? "" : "s", fmt::join(placement.worker_cpus, ","),
                                 format_cpu_list(placement.aether_cpus), placement.source);
  if (placement.cpuset) line += fmt::format(", in cpuset {}", *placement.cpuset);
  return line;
}

}  // namespace aether::partition
