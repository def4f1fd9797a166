// CpusetActuator: the application's cpuset.cpus, resized through the
// partition journal (actuator.hpp).
#include "aether/fluid/actuator.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/tasks.hpp"

namespace aether::fluid {
namespace {

using partition::HostAccess;
using Clock = std::chrono::steady_clock;

bool below(std::string_view path, std::string_view root) {
  return path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/';
}

Result<std::vector<unsigned>> read_cpus(const HostAccess& host, const std::string& file) {
  auto text = host.read(file);
  if (!text) return std::move(text).error();
  if (!*text) return errno_error(fmt::format("{} does not exist", file), ENOENT);
  auto cpus = parse_cpu_list(partition::trim_blanks(**text));
  if (!cpus) return invalid_argument(fmt::format("{}: {}", file, cpus.error().message));
  return cpus;
}

// The journal's header when it exists (so that opening keeps it), else one
// naming the pool as the Aether CPUs.
Result<partition::JournalHeader> journal_header(const HostAccess& host, const std::filesystem::path& path,
                                                 const std::vector<unsigned>& pool) {
  auto existing = partition::read_journal(path);
  if (!existing) return std::move(existing).error();
  if (*existing) return (*existing)->header;
  partition::JournalHeader header;
  header.aether_cpus = pool;
  if (auto online = read_cpus(host, "/sys/devices/system/cpu/online")) {
    for (unsigned cpu : *online) {
      if (!cpu_list_contains(pool, cpu)) header.housekeeping_cpus.push_back(cpu);
    }
  }
  const auto boot = partition::read_boot_identity(host);
  header.kernel_release = boot.kernel_release;
  header.boot_id = boot.boot_id;
  return header;
}

}  // namespace

std::optional<ThreadPlace> read_thread_place(std::string_view stat_text) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // fields are counted from the last ')'. State is field 3, processor 39.
  const std::size_t close = stat_text.rfind(')');
  if (close == std::string_view::npos || close + 2 >= stat_text.size()) return std::nullopt;
  std::string_view rest = stat_text.substr(close + 2);
  ThreadPlace place;
  place.runnable = rest.front() == 'R';
  for (unsigned field = 3; field < 39; ++field) {
    const std::size_t space = rest.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(space + 1);
  }
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), place.cpu);
  if (error != std::errc{} || end == rest.data()) return std::nullopt;
  return place;
}

Result<std::string> cpuset_cgroup_of(HostAccess& host, pid_t pid) {
  auto text = host.read(fmt::format("/proc/{}/cgroup", pid));
  if (!text) return std::move(text).error();
  if (!*text) return errno_error(fmt::format("pid {} does not exist", pid), ESRCH);
  const auto mounts = partition::find_cgroup_mounts(host);
  std::optional<std::string> v2_path;
  std::string_view lines = **text;
  while (!lines.empty()) {
    const std::size_t newline = lines.find('\n');
    const std::string_view line = lines.substr(0, newline);
    lines.remove_prefix(newline == std::string_view::npos ? lines.size() : newline + 1);
    // "hierarchy-ID:controller-list:cgroup-path" (cgroups(7)).
    const std::size_t first = line.find(':');
    const std::size_t second = line.find(':', first + 1);
    if (first == std::string_view::npos || second == std::string_view::npos) continue;
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string_view path = line.substr(second + 1);
    bool cpuset = false;
    for (std::size_t at = 0; at <= controllers.size();) {
      const std::size_t comma = std::min(controllers.find(',', at), controllers.size());
      cpuset = cpuset || controllers.substr(at, comma - at) == "cpuset";
      at = comma + 1;
    }
    if (cpuset && mounts.v1_cpuset) return path == "/" ? *mounts.v1_cpuset : *mounts.v1_cpuset + std::string(path);
    if (line.starts_with("0::") && mounts.v2 && mounts.v2_has_cpuset) {
      v2_path = path == "/" ? *mounts.v2 : *mounts.v2 + std::string(path);
    }
  }
  if (v2_path) return *v2_path;
  return errno_error(fmt::format("pid {} is in no cpuset cgroup (no v1 cpuset mount, no v2 cpuset controller)", pid),
                     ENOENT);
}

Result<CpusetActuator> CpusetActuator::open(ActuatorConfig config, HostAccess& host) {
  std::string cgroup = config.cgroup;
  while (cgroup.size() > 1 && cgroup.back() == '/') cgroup.pop_back();
  if (!host.is_directory(cgroup)) {
    return errno_error(fmt::format("cgroup {} does not exist (or is not a directory)", cgroup), ENOENT);
  }
  const auto mounts = partition::find_cgroup_mounts(host);
  const bool v1 = mounts.v1_cpuset && below(cgroup, *mounts.v1_cpuset);
  const bool v2 = !v1 && mounts.v2 && below(cgroup, *mounts.v2);
  if (mounts.v1_cpuset == cgroup || mounts.v2 == cgroup) {
    return invalid_argument(fmt::format("{} is the root cpuset (the whole host): resize a cpuset of the application's "
                                        "own (`mkdir` one and move it there, or `aether partition apply`)",
                                        cgroup));
  }
  if (!v1 && !v2) {
    return invalid_argument(fmt::format("{} is not below the v1 cpuset mount ({}) nor the v2 mount ({})", cgroup,
                                        mounts.v1_cpuset.value_or("none"), mounts.v2.value_or("none")));
  }
  if (!host.exists(cgroup + "/cpuset.cpus")) {
    return errno_error(fmt::format("{} has no cpuset.cpus: the cpuset controller is not enabled there (v2: add "
                                   "+cpuset to its parent's cgroup.subtree_control)",
                                   cgroup),
                       ENOENT);
  }
  auto current = read_cpus(host, cgroup + "/cpuset.cpus");
  if (!current) return std::move(current).error();
  const std::string parent = cgroup.substr(0, cgroup.rfind('/'));
  auto parent_cpus = read_cpus(host, parent + (v1 ? "/cpuset.effective_cpus" : "/cpuset.cpus.effective"));
  if (!parent_cpus) return std::move(parent_cpus).error();
  std::vector<unsigned> pool = config.pool.empty() ? *parent_cpus : config.pool;
  std::sort(pool.begin(), pool.end());
  pool.erase(std::unique(pool.begin(), pool.end()), pool.end());
  for (unsigned cpu : pool) {
    if (!cpu_list_contains(*parent_cpus, cpu)) {
      return invalid_argument(fmt::format("CPU {} of the pool {} is not in the parent cpuset {} (its CPUs: {}): the "
                                          "kernel would refuse it",
                                          cpu, format_cpu_list(pool), parent, format_cpu_list(*parent_cpus)));
    }
  }
  if (pool.empty()) return invalid_argument(fmt::format("the pool of CPUs for {} is empty", cgroup));
  const std::string exclusive_file = v1 ? "/cpuset.cpu_exclusive" : "/cpuset.cpus.partition";
  const std::string exclusive = host.read_trimmed(cgroup + exclusive_file).value_or(v1 ? "0" : "member");
  if (exclusive != "0" && exclusive != "member") {
    auto online = read_cpus(host, "/sys/devices/system/cpu/online");
    if (online && std::all_of(online->begin(), online->end(), [&](unsigned cpu) { return cpu_list_contains(pool, cpu); })) {
      return invalid_argument(fmt::format("{} is exclusive ({} {}) and the pool {} is every online CPU: it would take "
                                          "the host's last CPU; give --cpus without CPU 0",
                                          cgroup, exclusive_file.substr(1), exclusive, format_cpu_list(pool)));
    }
  }
  auto header = journal_header(host, config.journal_path, pool);
  if (!header) return std::move(header).error();
  auto journal = partition::Journal::open(config.journal_path, *header);
  if (!journal) return std::move(journal).error();
  config.cgroup = cgroup;
  return CpusetActuator(host, std::move(config), std::move(*journal), v1, std::move(pool), std::move(*current));
}

Result<std::vector<pid_t>> CpusetActuator::member_threads() const {
  // v1 lists threads in `tasks`; v2 has `cgroup.threads` (threads of a
  // domain cgroup's processes) - every thread either way.
  const std::string file = cgroup_ + (v1_ ? "/tasks" : "/cgroup.threads");
  if (!host_->exists(file)) return errno_error(fmt::format("cgroup {} disappeared", cgroup_), ENOENT);
  return partition::read_cgroup_members(*host_, file);
}

ActuationTiming CpusetActuator::wait_until_seen(const std::vector<unsigned>& cpus, Clock::time_point start,
                                                std::chrono::milliseconds wait_limit) const {
  ActuationTiming timing;
  bool affinity_seen = false;
  for (;;) {
    const auto threads = member_threads();
    const auto now = Clock::now();
    if (!threads) break;  // gone: resize() reports it
    timing.threads = static_cast<unsigned>(threads->size());
    bool all_allowed = true;
    bool all_running_there = true;
    for (pid_t tid : *threads) {
      const auto task = partition::read_task(*host_, tid);
      if (!task) continue;  // exited meanwhile
      if (task->allowed != cpus) all_allowed = false;
      const auto stat = host_->read_trimmed(fmt::format("/proc/{}/stat", tid));
      const auto place = stat ? read_thread_place(*stat) : std::nullopt;
      // A sleeping thread wakes on an allowed CPU; a runnable one must be
      // seen on one (the kernel migrates it off a CPU its cpuset lost).
      if (place && place->runnable && !cpu_list_contains(cpus, place->cpu)) all_running_there = false;
    }
    if (all_allowed && !affinity_seen) {
      affinity_seen = true;
      timing.affinity = now - start;
    }
    if (affinity_seen && all_running_there) {
      timing.running = now - start;
      return timing;
    }
    if (now - start > wait_limit) break;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  timing.settled = false;
  return timing;
}

Result<ResizeResult> CpusetActuator::resize(unsigned cpus, std::chrono::milliseconds wait_limit) {
  if (cpus == 0 || cpus > pool_.size()) {
    return invalid_argument(fmt::format("cannot give {} {} CPUs: the pool {} has {}", cgroup_, cpus,
                                        format_cpu_list(pool_), pool_.size()));
  }
  auto threads = member_threads();
  if (!threads) return std::move(threads).error();
  if (threads->empty()) {
    return errno_error(fmt::format("cgroup {} has no task left (its application exited)", cgroup_), ESRCH);
  }
  std::vector<unsigned> target(pool_.end() - cpus, pool_.end());
  ResizeResult result;
  result.cpus = target;
  if (target == cpus_) return result;
  const std::string file = cgroup_ + "/cpuset.cpus";
  auto previous = host_->read(file);
  if (!previous) return std::move(previous).error();
  if (!*previous) return errno_error(fmt::format("cgroup {} disappeared", cgroup_), ENOENT);
  // Durable before the write (journal.hpp); a no-op once the file is known,
  // so the value from before the first resize is what revert restores.
  const partition::JournalRecord record{partition::JournalRecordKind::file, file,
                                        std::string(partition::trim_blanks(**previous))};
  if (auto recorded = journal_.record(record); !recorded) return std::move(recorded).error();
  step("journaled");
  const auto start = Clock::now();
  if (auto written = host_->write(file, format_cpu_list(target)); !written) {
    if (!host_->is_directory(cgroup_)) return errno_error(fmt::format("cgroup {} disappeared", cgroup_), ENOENT);
    return std::move(written).error();
  }
  result.timing.write = Clock::now() - start;
  cpus_ = target;
  step("written");
  const auto written_time = result.timing.write;
  result.timing = wait_until_seen(target, start, wait_limit);
  result.timing.write = written_time;
  return result;
}

Result<void> CpusetActuator::finish() { return journal_.mark_complete(); }

}  // namespace aether::fluid
