// Finding the cpuset hierarchies and reading their partitions.
#include "aether/partition/cgroup.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"

namespace aether::partition {
namespace {

constexpr unsigned max_depth = 8;
constexpr unsigned max_directories = 4096;

// mountinfo escapes space, tab, newline and backslash as \ooo (fs/proc_namespace.c).
std::string unescape_octal(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() &&
        std::all_of(text.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                    text.begin() + static_cast<std::ptrdiff_t>(i) + 4, [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 + (text[i + 3] - '0'));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t end = text.find(separator, begin);
    parts.push_back(text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    if (end == std::string_view::npos) return parts;
    begin = end + 1;
  }
}

bool has_word(std::string_view list, std::string_view word, char separator) {
  const auto parts = split(list, separator);
  return std::find(parts.begin(), parts.end(), word) != parts.end();
}

std::optional<std::vector<unsigned>> read_list(const HostAccess& host, const std::string& path) {
  auto text = host.read_trimmed(path);
  if (!text) return std::nullopt;
  auto cpus = parse_cpu_list(*text);
  if (!cpus) return std::nullopt;
  return std::move(*cpus);
}

CpusetV1 read_v1_cpuset(const HostAccess& host, const std::string& path) {
  CpusetV1 cpuset;
  cpuset.path = path;
  cpuset.cpus = read_list(host, path + "/cpuset.cpus").value_or(std::vector<unsigned>{});
  cpuset.cpu_exclusive = host.read_trimmed(path + "/cpuset.cpu_exclusive").value_or("0") == "1";
  cpuset.load_balance = host.read_trimmed(path + "/cpuset.sched_load_balance").value_or("1") == "1";
  cpuset.task_count = static_cast<unsigned>(read_cgroup_members(host, path + "/tasks").size());
  return cpuset;
}

}  // namespace

std::vector<std::string> list_cgroups(const HostAccess& host, const std::string& root, unsigned& skipped) {
  struct Pending {
    std::string path;
    unsigned depth;
  };
  std::vector<std::string> found;
  std::vector<Pending> pending{{root, 0}};
  while (!pending.empty()) {
    const Pending current = std::move(pending.back());
    pending.pop_back();
    for (const std::string& name : host.list_directory(current.path)) {
      const std::string child = current.path + "/" + name;
      if (!host.is_directory(child)) continue;
      if (current.depth + 1 > max_depth || found.size() >= max_directories) {
        ++skipped;
        continue;
      }
      found.push_back(child);
      pending.push_back({child, current.depth + 1});
    }
  }
  return found;
}

std::vector<pid_t> read_cgroup_members(const HostAccess& host, const std::string& file) {
  std::vector<pid_t> ids;
  auto text = host.read(file);
  if (!text || !*text) return ids;
  for (std::string_view line : split(**text, '\n')) {
    line = trim_blanks(line);
    pid_t id = 0;
    const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), id);
    if (!line.empty() && error == std::errc{} && end == line.data() + line.size()) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

CgroupMounts parse_mountinfo(std::string_view text) {
  CgroupMounts mounts;
  for (std::string_view line : split(text, '\n')) {
    const auto fields = split(line, ' ');
    const auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || fields.end() - dash < 4) continue;
    const std::string_view fstype = *(dash + 1);
    const std::string_view super_options = *(dash + 3);
    const std::string mount_point = unescape_octal(fields[4]);
    if (fstype == "cgroup2" && !mounts.v2) mounts.v2 = mount_point;
    if (fstype == "cgroup" && !mounts.v1_cpuset && has_word(super_options, "cpuset", ',')) {
      mounts.v1_cpuset = mount_point;
    }
  }
  return mounts;
}

CgroupMounts find_cgroup_mounts(const HostAccess& host) {
  CgroupMounts mounts;
  if (auto text = host.read("/proc/self/mountinfo"); text && *text) mounts = parse_mountinfo(**text);
  if (mounts.v2) {
    const auto controllers = host.read_trimmed(*mounts.v2 + "/cgroup.controllers");
    mounts.v2_has_cpuset = controllers && has_word(*controllers, "cpuset", ' ');
  }
  return mounts;
}

CpusetState read_cpuset_state(const HostAccess& host) {
  CpusetState state;
  state.mounts = find_cgroup_mounts(host);
  if (state.mounts.v2 && state.mounts.v2_has_cpuset) {
    const std::string& root = *state.mounts.v2;
    state.v2_isolated = read_list(host, root + "/cpuset.cpus.isolated");
    if (!state.v2_isolated) state.v2_isolated = read_list(host, root + "/.__DEBUG__.cpuset.cpus.isolated");
    for (const std::string& path : list_cgroups(host, root, state.directories_skipped)) {
      const auto value = host.read_trimmed(path + "/cpuset.cpus.partition");
      if (!value || *value == "member") continue;
      CpusetPartition partition;
      partition.path = path;
      partition.state = *value;
      partition.cpus = read_list(host, path + "/cpuset.cpus.effective").value_or(std::vector<unsigned>{});
      partition.valid = value->find("invalid") == std::string::npos;
      partition.isolated = value->starts_with("isolated");
      state.partitions.push_back(std::move(partition));
    }
  }
  if (state.mounts.v1_cpuset) {
    const std::string& root = *state.mounts.v1_cpuset;
    if (host.exists(root + "/cpuset.cpus")) {
      state.v1_root = read_v1_cpuset(host, root);
      for (const std::string& path : list_cgroups(host, root, state.directories_skipped)) {
        state.v1_children.push_back(read_v1_cpuset(host, path));
      }
    }
  }
  return state;
}

std::vector<unsigned> CpusetState::isolated_cpus() const {
  std::vector<unsigned> cpus;
  for (const CpusetPartition& partition : partitions) {
    if (partition.isolated && partition.valid) cpus.insert(cpus.end(), partition.cpus.begin(), partition.cpus.end());
  }
  if (v1_root && !v1_root->load_balance) {
    for (unsigned cpu : v1_root->cpus) {
      const bool balanced = std::any_of(v1_children.begin(), v1_children.end(), [&](const CpusetV1& child) {
        return child.load_balance && cpu_list_contains(child.cpus, cpu);
      });
      if (!balanced) cpus.push_back(cpu);
    }
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

}  // namespace aether::partition
