// The files and directories a journal may name (see journal_targets.hpp).
#include "aether/partition/journal_targets.hpp"

#include <algorithm>
#include <iterator>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace aether::partition {
namespace {

// `path` below `prefix` (a directory), not `prefix` itself.
bool strictly_below(std::string_view path, std::string_view prefix) {
  if (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  return path.size() > prefix.size() + 1 && path.starts_with(prefix) && path[prefix.size()] == '/';
}

std::string_view file_name(std::string_view path) { return path.substr(path.rfind('/') + 1); }

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Absolute, and no NUL, empty, "." or ".." component: the path names one
// file the way the checks below read it.
std::optional<std::string_view> malformed(std::string_view path) {
  if (!path.starts_with('/')) return "not absolute";
  if (path.find('\0') != std::string_view::npos) return "contains a NUL byte";
  std::string_view rest = path.substr(1);
  for (;;) {
    const std::size_t slash = rest.find('/');
    const std::string_view component = rest.substr(0, slash);
    if (component.empty()) return "has an empty component";
    if (component == "." || component == "..") return "has a \".\" or \"..\" component";
    if (slash == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(slash + 1);
  }
}

bool below_a_cgroup_mount(std::string_view path, const CgroupMounts& mounts) {
  return (mounts.v2 && strictly_below(path, *mounts.v2)) || (mounts.v1_cpuset && strictly_below(path, *mounts.v1_cpuset));
}

bool allowed_file(std::string_view path, const CgroupMounts& mounts) {
  if (path == "/proc/irq/default_smp_affinity") return true;
  if (std::find(std::begin(partition_sysctls), std::end(partition_sysctls), path) != std::end(partition_sysctls)) {
    return true;
  }
  for (std::string_view family : {"/sys/devices/system/cpu", "/sys/devices/virtual/workqueue",
                                  "/sys/kernel/mm/hugepages", "/sys/kernel/mm/transparent_hugepage"}) {
    if (strictly_below(path, family)) return true;
  }
  return below_a_cgroup_mount(path, mounts) && file_name(path).starts_with("cpuset.");
}

bool allowed_irq(std::string_view path) {
  constexpr std::string_view prefix = "/proc/irq/";
  if (!path.starts_with(prefix)) return false;
  const std::string_view rest = path.substr(prefix.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || !all_digits(rest.substr(0, slash))) return false;
  const std::string_view name = rest.substr(slash + 1);
  return name == "smp_affinity_list" || name == "smp_affinity";
}

bool allowed_controller(const JournalRecord& record, const CgroupMounts& mounts) {
  const std::string_view path = record.path;
  if (!mounts.v2 || file_name(path) != "cgroup.subtree_control") return false;
  if (path != *mounts.v2 + "/cgroup.subtree_control" && !strictly_below(path, *mounts.v2)) return false;
  const std::string_view name = record.previous;
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

std::string mounts_text(const CgroupMounts& mounts) {
  std::string text;
  if (mounts.v2) text = fmt::format("cgroup2 at {}", *mounts.v2);
  if (mounts.v1_cpuset) text += fmt::format("{}cpuset at {}", text.empty() ? "" : ", ", *mounts.v1_cpuset);
  return text.empty() ? "no cgroup mount" : text;
}

}  // namespace

Result<void> check_journal_target(const JournalRecord& record, const CgroupMounts& mounts) {
  auto refuse = [&](std::string_view why) {
    return invalid_argument(fmt::format("journal record for \"{}\" refused: {}", record.path, why));
  };
  if (record.previous.find('\0') != std::string::npos) return refuse("its value contains a NUL byte");
  if (record.kind == JournalRecordKind::affinity) {
    if (record.tid <= 0) return invalid_argument(fmt::format("journal affinity record for TID {} refused", record.tid));
    return {};
  }
  if (const auto why = malformed(record.path)) return refuse(*why);
  switch (record.kind) {
    case JournalRecordKind::file:
      if (allowed_file(record.path, mounts)) return {};
      return refuse(fmt::format("apply writes no such file (only /proc/irq/default_smp_affinity, a few /proc/sys "
                                "knobs, /sys/devices/system/cpu, the workqueue and hugepage knobs, and cpuset.* "
                                "files below a cgroup mount: {})",
                                mounts_text(mounts)));
    case JournalRecordKind::irq:
      if (allowed_irq(record.path)) return {};
      return refuse("not /proc/irq/N/smp_affinity_list");
    case JournalRecordKind::directory:
      if (below_a_cgroup_mount(record.path, mounts)) return {};
      return refuse(fmt::format("apply creates directories only below a cgroup mount ({})", mounts_text(mounts)));
    case JournalRecordKind::controller:
      if (allowed_controller(record, mounts)) return {};
      return refuse(fmt::format("not a cgroup.subtree_control below the cgroup v2 mount ({}) with a controller "
                                "name, \"{}\"",
                                mounts_text(mounts), record.previous));
    case JournalRecordKind::hold:
      if (record.path == cpu_dma_latency_path && all_digits(record.previous)) return {};
      return refuse(fmt::format("apply asks only for {} held at a number of microseconds", cpu_dma_latency_path));
    case JournalRecordKind::affinity:
      break;
  }
  return {};
}

}  // namespace aether::partition
