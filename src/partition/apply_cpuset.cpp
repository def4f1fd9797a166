// Apply step 2: a cpuset partition for the Aether CPUs, cgroup v2 where the
// cpuset controller is available there, cgroup v1 otherwise.
#include <algorithm>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/tasks.hpp"
#include "apply_context.hpp"
#include "cpu_set_ops.hpp"

namespace aether::partition::detail {
namespace {

constexpr std::string_view aether_cgroup = "aether";
constexpr std::string_view housekeeping_cgroup = "aether-housekeeping";

bool has_word(std::string_view words, std::string_view word) {
  std::size_t position = 0;
  while (position < words.size()) {
    const std::size_t begin = words.find_first_not_of(" \n", position);
    if (begin == std::string_view::npos) break;
    const std::size_t end = std::min(words.find_first_of(" \n", begin), words.size());
    if (words.substr(begin, end - begin) == word) return true;
    position = end;
  }
  return false;
}

// Other cpusets that list Aether CPUs would keep them load balanced (v1:
// any cpuset with sched_load_balance=1 spans a scheduler domain) or make the
// partition invalid (v2: a partition's CPUs must be exclusive among its
// siblings), and the kernel refuses cpu_exclusive=1 next to them (v1). They
// get their CPUs minus the Aether CPUs, deepest first since a child's CPUs
// must stay within its parent's; revert, undoing in reverse, widens parents
// first. Empty cpuset.cpus (v2: inherit the parent's) are left alone.
Result<void> shrink_other_cpusets(ApplyContext& context, const std::string& root) {
  unsigned skipped = 0;
  std::vector<std::string> cgroups = list_cgroups(context.host, root, skipped);
  std::erase_if(cgroups, [&](const std::string& path) {
    for (std::string_view ours : {aether_cgroup, housekeeping_cgroup}) {
      const std::string mine = fmt::format("{}/{}", root, ours);
      if (path == mine || path.starts_with(mine + "/")) return true;
    }
    return false;
  });
  std::stable_sort(cgroups.begin(), cgroups.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  unsigned shrunk = 0;
  for (const std::string& cgroup : cgroups) {
    const std::string file = cgroup + "/cpuset.cpus";
    const auto text = context.host.read_trimmed(file);
    if (!text || text->empty()) continue;
    const auto cpus = parse_cpu_list(*text);
    if (!cpus || !cpu_overlap(*cpus, context.aether)) continue;
    const auto rest = cpu_difference(*cpus, context.aether);
    if (rest.empty()) {
      context.report.warnings.push_back(
          fmt::format("cpuset {} holds only Aether CPUs ({}): left as it is", cgroup, *text));
      continue;
    }
    if (auto changed = context.change_file(file, format_cpu_list(rest)); !changed) return changed;
    ++shrunk;
  }
  if (shrunk > 0) {
    context.report.done.push_back(
        fmt::format("took CPUs {} out of {} other cpusets", format_cpu_list(context.aether), shrunk));
  }
  if (skipped > 0) {
    context.report.warnings.push_back(
        fmt::format("{} cgroups below {} were not examined (too deep or too many)", skipped, root));
  }
  return {};
}

// cgroup v2 (Documentation/admin-guide/cgroup-v2.rst, "Cpuset Interface
// Files"): a child of the root with exclusive CPUs becomes a partition root.
Result<void> apply_v2(ApplyContext& context, const std::string& root) {
  const std::string subtree_control = root + "/cgroup.subtree_control";
  const auto controllers = context.host.read_trimmed(subtree_control);
  if (!controllers) return errno_error(fmt::format("cannot read {}", subtree_control), ENOENT);
  if (!has_word(*controllers, "cpuset")) {
    JournalRecord record{JournalRecordKind::controller, subtree_control, "cpuset", 0, 0};
    if (auto journaled = context.journal.record(record); !journaled) return journaled;
    if (auto written = context.host.write(subtree_control, "+cpuset"); !written) return written;
    context.report.done.push_back(fmt::format("enabled the cpuset controller in {}", subtree_control));
  }
  if (auto shrunk = shrink_other_cpusets(context, root); !shrunk) return shrunk;
  const std::string directory = fmt::format("{}/{}", root, aether_cgroup);
  if (auto created = context.create_directory(directory); !created) return created;
  const std::string cpus = format_cpu_list(context.aether);
  if (auto written = context.change_file(directory + "/cpuset.cpus", cpus); !written) return written;
  const char* type = has_isolated_partitions(context.kernel) ? "isolated" : "root";
  if (auto written = context.change_file(directory + "/cpuset.cpus.partition", type); !written) return written;
  const std::string state = context.host.read_trimmed(directory + "/cpuset.cpus.partition").value_or("?");
  if (state.find("invalid") != std::string::npos) {
    context.report.warnings.push_back(
        fmt::format("{}/cpuset.cpus.partition reads \"{}\": the partition isolates nothing (another cgroup may "
                    "hold CPUs {} in its cpuset.cpus)",
                    directory, state, cpus));
  } else {
    context.report.done.push_back(fmt::format("cgroup v2 {} partition {} with CPUs {}", type, directory, cpus));
  }
  if (!has_isolated_partitions(context.kernel)) {
    context.report.warnings.push_back(fmt::format(
        "kernel {} predates isolated partitions (6.1): load balancing continues inside the \"root\" partition",
        context.kernel.short_text()));
  }
  return {};
}

// cgroup v1 (Documentation/admin-guide/cgroup-v1/cpusets.rst 1.7): CPUs are
// out of load balancing only when no cpuset with sched_load_balance=1 holds
// them, which requires the top cpuset's flag to be 0 and its tasks to live in
// a load-balanced housekeeping cpuset.
Result<void> apply_v1(ApplyContext& context, const std::string& root) {
  const std::string mems = context.host.read_trimmed(root + "/cpuset.mems").value_or("0");
  const std::string aether = fmt::format("{}/{}", root, aether_cgroup);
  const std::string housekeeping = fmt::format("{}/{}", root, housekeeping_cgroup);

  if (auto shrunk = shrink_other_cpusets(context, root); !shrunk) return shrunk;
  if (auto created = context.create_directory(aether); !created) return created;
  for (const auto& [file, value] : {std::pair{"cpuset.cpus", format_cpu_list(context.aether)},
                                    std::pair{"cpuset.mems", mems}, std::pair{"cpuset.cpu_exclusive", std::string("1")},
                                    std::pair{"cpuset.sched_load_balance", std::string("0")}}) {
    if (auto written = context.change_file(fmt::format("{}/{}", aether, file), value); !written) return written;
  }
  if (auto created = context.create_directory(housekeeping); !created) return created;
  for (const auto& [file, value] :
       {std::pair{"cpuset.cpus", format_cpu_list(context.housekeeping)}, std::pair{"cpuset.mems", mems}}) {
    if (auto written = context.change_file(fmt::format("{}/{}", housekeeping, file), value); !written) return written;
  }

  // Move the top cpuset's tasks; per-CPU kthreads refuse (EINVAL) and stay.
  unsigned moved = 0, refused = 0;
  for (pid_t tid : read_cgroup_members(context.host, root + "/tasks")) {
    // A task confined to Aether CPUs (a running data plane) joins the Aether
    // cpuset; everything else the housekeeping one.
    const auto task = read_task(context.host, tid);
    const bool confined =
        task && !task->pinned_by_kernel() && !task->allowed.empty() && cpu_subset(task->allowed, context.aether);
    if (context.host.write((confined ? aether : housekeeping) + "/tasks", std::to_string(tid))) {
      ++moved;
    } else {
      ++refused;
    }
  }
  if (auto written = context.change_file(root + "/cpuset.sched_load_balance", "0"); !written) return written;
  context.report.done.push_back(fmt::format(
      "cgroup v1 cpusets {} (CPUs {}, exclusive, no load balancing) and {} (CPUs {}); moved {} tasks of the top "
      "cpuset there ({} stayed: per-CPU kthreads or exited); top cpuset load balancing off",
      aether, format_cpu_list(context.aether), housekeeping, format_cpu_list(context.housekeeping), moved, refused));
  return {};
}

}  // namespace

Result<void> apply_cpuset(ApplyContext& context, const CgroupMounts& mounts) {
  if (mounts.v2 && mounts.v2_has_cpuset) return apply_v2(context, *mounts.v2);
  if (mounts.v1_cpuset) return apply_v1(context, *mounts.v1_cpuset);
  context.report.warnings.push_back(
      "no cpuset hierarchy mounted (cgroup v2 with the cpuset controller, or a v1 cpuset): no partition made; "
      "load balancing isolation needs isolcpus=domain at boot");
  return {};
}

}  // namespace aether::partition::detail
