// A watch session: which tgids the telemetry follows (one pid, or every pid
// listed in a cgroup directory's cgroup.procs, re-read each interval), and
// one FeatureVector per interval.
//
// cgroup v1 note: bpf_get_current_cgroup_id() reports the v2 hierarchy's id,
// which is the root (1) for every task that lives only in v1 hierarchies, so
// the in-kernel filter is a set of tgids, not a cgroup id (docs/fluid.md).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/core/unique_fd.hpp"
#include "aether/fluid/features.hpp"
#include "aether/fluid/pmu.hpp"
#include "aether/fluid/telemetry.hpp"

namespace aether::fluid {

struct WatchTarget {
  pid_t pid = 0;                   // set for --pid
  std::filesystem::path cgroup;    // set for --cgroup (a directory with cgroup.procs)
};

// The tgids listed in `cgroup`/cgroup.procs. Errors name the path: missing
// directory, not a cgroup (no cgroup.procs), unreadable.
Result<std::vector<pid_t>> read_cgroup_procs(const std::filesystem::path& cgroup);

// On-CPU time (user + system, every thread) of one process so far, from
// /proc/PID/stat; nullopt when the process is gone or the file unreadable.
std::optional<std::uint64_t> process_cpu_ns(pid_t tgid);

// The union of the CPUs the given tgids may run on (sched_getaffinity).
std::vector<int> allowed_cpus(const std::vector<pid_t>& tgids);

class WatchSession {
 public:
  // Checks the target exists (pid alive, cgroup directory readable), then
  // puts its tgids into the telemetry's filter.
  static Result<WatchSession> start(Telemetry& telemetry, WatchTarget target);

  // Waits one interval (less if the watched pid exits) and returns its
  // features. Errors end the session: the watched pid exited (code ESRCH,
  // returned by the call after the one that reported its last interval), or
  // the cgroup directory disappeared (ENOENT).
  Result<FeatureVector> next(std::chrono::milliseconds interval);

  // Why PMU figures are missing ("" when they are counted).
  [[nodiscard]] const std::string& pmu_unavailable_reason() const noexcept { return pmu_.unavailable_reason(); }

 private:
  WatchSession(Telemetry& telemetry, WatchTarget target) : telemetry_(&telemetry), target_(std::move(target)) {}
  Result<void> refresh_members();
  std::uint64_t cpu_ns_since_last();

  Telemetry* telemetry_;
  WatchTarget target_;
  UniqueFd pidfd_;  // for --pid: readable when the process exits
  std::set<pid_t> members_;
  std::map<pid_t, std::uint64_t> last_cpu_ns_;  // per member, at the last interval's end
  std::vector<int> cpus_;
  PmuCounters pmu_;
  CounterSnapshot last_;
  std::chrono::steady_clock::time_point last_time_;
  std::uint64_t index_ = 0;
  bool pid_exited_ = false;
};

}  // namespace aether::fluid
