// Reading threads and their allowed CPUs from /proc.
#include "aether/partition/tasks.hpp"

#include <charconv>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"

namespace aether::partition {
namespace {

template <class Number>
std::optional<Number> whole_number(std::string_view text) {
  Number number{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return number;
}

// The value of "Key:\tvalue" in status text.
std::string_view status_field(std::string_view status, std::string_view key) {
  std::size_t position = 0;
  while (position < status.size()) {
    const std::size_t newline = status.find('\n', position);
    const std::string_view line =
        status.substr(position, newline == std::string_view::npos ? std::string_view::npos : newline - position);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ':') {
      return trim_blanks(line.substr(key.size() + 1));
    }
    if (newline == std::string_view::npos) break;
    position = newline + 1;
  }
  return {};
}

std::optional<TaskInfo> read_thread(const HostAccess& host, const std::string& directory, pid_t tid) {
  const auto status = host.read(directory + "/status");
  const auto stat = host.read(directory + "/stat");
  if (!status || !*status || !stat || !*stat) return std::nullopt;
  TaskInfo task;
  task.tid = tid;
  task.name = std::string(status_field(**status, "Name"));
  task.tgid = whole_number<pid_t>(status_field(**status, "Tgid")).value_or(tid);
  auto allowed = parse_cpu_list(status_field(**status, "Cpus_allowed_list"));
  if (!allowed) return std::nullopt;
  task.allowed = std::move(*allowed);
  if (!parse_task_stat(**stat, task.flags, task.start_time)) return std::nullopt;
  return task;
}

}  // namespace

bool parse_task_stat(std::string_view stat, std::uint64_t& flags, std::uint64_t& start_time) {
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return false;
  // Fields after "pid (comm)": state is field 3; flags field 9; starttime field 22.
  std::string_view rest = stat.substr(close + 1);
  unsigned field = 2;
  std::size_t position = 0;
  bool have_flags = false;
  while (position < rest.size()) {
    const std::size_t begin = rest.find_first_not_of(" \n", position);
    if (begin == std::string_view::npos) break;
    std::size_t end = rest.find_first_of(" \n", begin);
    if (end == std::string_view::npos) end = rest.size();
    ++field;
    const std::string_view word = rest.substr(begin, end - begin);
    if (field == 9) {
      const auto value = whole_number<std::uint64_t>(word);
      if (!value) return false;
      flags = *value;
      have_flags = true;
    } else if (field == 22) {
      const auto value = whole_number<std::uint64_t>(word);
      if (!value) return false;
      start_time = *value;
      return have_flags;
    }
    position = end;
  }
  return false;
}

std::vector<TaskInfo> read_tasks(const HostAccess& host) {
  std::vector<TaskInfo> tasks;
  for (const std::string& process : host.list_directory("/proc")) {
    if (!whole_number<pid_t>(process)) continue;
    const std::string task_directory = "/proc/" + process + "/task";
    for (const std::string& thread : host.list_directory(task_directory)) {
      const auto tid = whole_number<pid_t>(thread);
      if (!tid) continue;
      if (auto task = read_thread(host, task_directory + "/" + thread, *tid)) tasks.push_back(std::move(*task));
    }
  }
  return tasks;
}

std::optional<TaskInfo> read_task(const HostAccess& host, pid_t tid) {
  // procfs resolves /proc/TID for any thread, not only for process leaders
  // (fs/proc/base.c, proc_pid_lookup()), so this finds every thread.
  if (auto task = read_thread(host, fmt::format("/proc/{}/task/{}", tid, tid), tid)) return task;
  // Trees that only list processes (test fixtures): search the processes.
  for (const std::string& process : host.list_directory("/proc")) {
    if (!whole_number<pid_t>(process)) continue;
    const std::string directory = fmt::format("/proc/{}/task/{}", process, tid);
    if (host.is_directory(directory)) return read_thread(host, directory, tid);
  }
  return std::nullopt;
}

}  // namespace aether::partition
