#include "aether/fluid/watch.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "aether/core/text_file.hpp"

namespace aether::fluid {
namespace {

std::uint64_t elapsed_ns(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count());
}

}  // namespace

Result<std::vector<pid_t>> read_cgroup_procs(const std::filesystem::path& cgroup) {
  std::error_code error;
  if (!std::filesystem::is_directory(cgroup, error)) {
    return errno_error(fmt::format("cgroup {} does not exist (or is not a directory)", cgroup.native()), ENOENT);
  }
  const std::filesystem::path procs = cgroup / "cgroup.procs";
  auto text = detail::read_optional_text_file(procs);
  if (!text) return std::move(text).error();
  if (!*text) {
    return errno_error(fmt::format("{} is not a cgroup directory: it has no cgroup.procs", cgroup.native()), ENOENT);
  }
  std::vector<pid_t> tgids;
  std::string_view rest = **text;
  while (!rest.empty()) {
    const auto end_of_line = rest.find('\n');
    const std::string_view line = detail::trim(rest.substr(0, end_of_line));
    rest = end_of_line == std::string_view::npos ? std::string_view{} : rest.substr(end_of_line + 1);
    if (line.empty()) continue;
    pid_t tgid = 0;
    const auto [end, parse_error] = std::from_chars(line.data(), line.data() + line.size(), tgid);
    if (parse_error != std::errc{} || end != line.data() + line.size() || tgid <= 0) {
      return invalid_argument(fmt::format("{}: \"{}\" is not a pid", procs.native(), line));
    }
    tgids.push_back(tgid);
  }
  return tgids;
}

std::optional<std::uint64_t> process_cpu_ns(pid_t tgid) {
  auto text = detail::read_optional_text_file(fmt::format("/proc/{}/stat", tgid));
  if (!text || !*text) return std::nullopt;
  // proc(5): "pid (comm) state ..."; comm may hold spaces and ')', so count
  // fields after the last ')': state is field 3, utime 14, stime 15.
  const std::string_view stat = **text;
  const auto comm_end = stat.rfind(')');
  if (comm_end == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(comm_end + 1);
  std::uint64_t ticks = 0;
  for (int field = 3; field <= 15 && !rest.empty(); ++field) {
    rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
    const std::string_view value = rest.substr(0, rest.find(' '));
    rest.remove_prefix(value.size());
    if (field < 14) continue;
    std::uint64_t parsed = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (error != std::errc{} || end != value.data() + value.size()) return std::nullopt;
    ticks += parsed;
  }
  static const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  if (ticks_per_second <= 0) return std::nullopt;
  return ticks * (1'000'000'000ULL / static_cast<std::uint64_t>(ticks_per_second));
}

std::vector<int> allowed_cpus(const std::vector<pid_t>& tgids) {
  std::vector<int> cpus;
  for (const pid_t tgid : tgids) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(tgid, sizeof set, &set) != 0) continue;  // exited meanwhile
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

Result<WatchSession> WatchSession::start(Telemetry& telemetry, WatchTarget target) {
  WatchSession session(telemetry, std::move(target));
  if (session.target_.cgroup.empty()) {
    if (session.target_.pid <= 0) return invalid_argument(fmt::format("pid {} is not a valid pid", session.target_.pid));
    // A pidfd turns readable when the process exits, even if its pid is reused.
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, session.target_.pid, 0));
    if (fd < 0) {
      if (errno == ESRCH) return errno_error(fmt::format("pid {} does not exist", session.target_.pid), ESRCH);
      if (errno == EINVAL) return errno_error(fmt::format("pid {} is not a process (a thread id?)", session.target_.pid), EINVAL);
      return errno_error(fmt::format("cannot open pid {}", session.target_.pid));
    }
    session.pidfd_ = UniqueFd(fd);
  }
  if (auto members = session.refresh_members(); !members) return std::move(members).error();
  auto snapshot = telemetry.read();
  if (!snapshot) return std::move(snapshot).error();
  session.last_ = *snapshot;
  session.pmu_.open(std::vector<pid_t>(session.members_.begin(), session.members_.end()));
  session.last_time_ = std::chrono::steady_clock::now();
  return session;
}

Result<void> WatchSession::refresh_members() {
  std::vector<pid_t> now;
  if (target_.cgroup.empty()) {
    now.push_back(target_.pid);
  } else {
    auto procs = read_cgroup_procs(target_.cgroup);
    if (!procs) {
      if (index_ > 0) return errno_error(fmt::format("cgroup {} disappeared", target_.cgroup.native()), ENOENT);
      return std::move(procs).error();
    }
    now = std::move(*procs);
  }
  const std::set<pid_t> current(now.begin(), now.end());
  for (const pid_t gone : members_) {
    if (!current.contains(gone)) {
      if (auto removed = telemetry_->unwatch(gone); !removed) return removed;
    }
  }
  for (const pid_t added : current) {
    if (!members_.contains(added)) {
      if (auto watched = telemetry_->watch(added); !watched) return watched;
    }
  }
  members_ = current;
  std::erase_if(last_cpu_ns_, [&](const auto& entry) { return !current.contains(entry.first); });
  for (const pid_t member : current) {
    if (!last_cpu_ns_.contains(member)) last_cpu_ns_[member] = process_cpu_ns(member).value_or(0);
  }
  cpus_ = allowed_cpus(now);
  telemetry_->set_watched_cpus(cpus_);
  return {};
}

std::uint64_t WatchSession::cpu_ns_since_last() {
  std::uint64_t total = 0;
  for (auto& [member, last] : last_cpu_ns_) {
    // A member that is gone (or reaped) keeps its last reading: it adds nothing.
    const std::uint64_t now = process_cpu_ns(member).value_or(last);
    total += now >= last ? now - last : 0;
    last = now;
  }
  return total;
}

Result<FeatureVector> WatchSession::next(std::chrono::milliseconds interval) {
  if (pid_exited_) return errno_error(fmt::format("pid {} exited", target_.pid), ESRCH);
  bool exited = false;
  if (pidfd_.valid()) {
    pollfd wait{pidfd_.get(), POLLIN, 0};
    const int ready = ::poll(&wait, 1, static_cast<int>(interval.count()));
    exited = ready > 0;
  } else {
    std::this_thread::sleep_for(interval);
  }
  const auto now_time = std::chrono::steady_clock::now();
  auto snapshot = telemetry_->read();
  if (!snapshot) return std::move(snapshot).error();
  // The interval the process exited in is still reported; the next call ends the session.
  pid_exited_ = exited;
  ++index_;
  FeatureVector features;
  features.interval_index = index_;
  features.interval_ns = elapsed_ns(last_time_, now_time);
  features.watched_tgids = members_.size();
  features.watched_cpus = cpus_.size();
  features.counts = difference(*snapshot, last_);
  features.pmu = pmu_.read_interval();
  features.cpu_ns = cpu_ns_since_last();
  last_ = *snapshot;
  last_time_ = now_time;
  // New cgroup members, departed ones, and affinity changes (the softirq CPUs).
  if (!pid_exited_) {
    if (auto refreshed = refresh_members(); !refreshed) return std::move(refreshed).error();
  }
  return features;
}

}  // namespace aether::fluid
