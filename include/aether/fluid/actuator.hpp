// The fluid partition's actuator (issue 14 item 3): grows and shrinks the
// CPUs of an application's cpuset through the partition journal, so that a
// crash or kill -9 at any point leaves a host `aether partition revert`
// restores.
//
// What it resizes: `cpuset.cpus` of the application's own cpuset cgroup
// (cgroup v1 `<cpuset mount>/...`, or a v2 cgroup with the cpuset controller,
// e.g. a child of the isolated partition `aether partition apply` made). The
// application holds the last `n` CPUs of a pool (highest numbers first: CPU 0
// and the low CPUs are the host's); the kernel then resets every task's
// affinity in that cpuset to the new CPUs (cgroup-v1/cpusets.rst 1.4;
// cgroup-v2.rst "Cpuset"), so its threads follow without being told.
//
// Safety rules, checked when the actuator is made:
//   - never the root cpuset (it holds the whole host);
//   - the pool lies within the parent cpuset's CPUs (else the kernel refuses
//     every write with EINVAL; said up front instead);
//   - an exclusive cpuset (v1 cpu_exclusive=1, a v2 partition root) never
//     gets the host's last CPU: a pool of every online CPU is refused;
//   - every write is preceded by a durable journal record (write + fsync) of
//     the file's value before it; only the first record of a file counts, so
//     `aether partition revert` puts back the value from before the first
//     resize, whatever happened after.
//
// The journal: the partition's own (`/var/lib/aether/partition.journal` by
// default) when it exists, its header kept; else a new one with the pool as
// its Aether CPUs. Its lock is held while the actuator lives, so no apply or
// revert interleaves with a resize.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/partition/host_access.hpp"
#include "aether/partition/journal.hpp"

namespace aether::fluid {

struct ActuatorConfig {
  std::string cgroup;             // the application's cpuset directory (absolute, logical path)
  std::vector<unsigned> pool;     // CPUs it may hold; empty: its parent cpuset's CPUs
  std::filesystem::path journal_path = partition::default_journal_path;
  // Called after each durable step with its name: "journaled" (a record is
  // on disk, its write not made yet), "written" (cpuset.cpus holds the new
  // CPUs). Tests stop the process there to kill it mid-actuation.
  std::function<void(std::string_view step)> on_step;
};

// How long one resize took to show, measured from just before the write.
struct ActuationTiming {
  std::chrono::nanoseconds write{0};      // the write(2) of cpuset.cpus
  std::chrono::nanoseconds affinity{0};   // until every thread's Cpus_allowed_list is the new set
  std::chrono::nanoseconds running{0};    // until every runnable thread last ran on one of the new CPUs
  unsigned threads = 0;                   // threads of the cgroup seen
  bool settled = true;                    // false: not seen within the wait limit
};

struct ResizeResult {
  std::vector<unsigned> cpus;  // the application's CPUs now
  ActuationTiming timing;
};

class CpusetActuator {
 public:
  // Checks the cgroup and the rules above, opens (or creates) the journal.
  // Errors name the cgroup, the CPU or the rule at fault.
  static Result<CpusetActuator> open(ActuatorConfig config, partition::HostAccess& host);

  CpusetActuator(CpusetActuator&&) noexcept = default;
  CpusetActuator& operator=(CpusetActuator&&) noexcept = default;
  CpusetActuator(const CpusetActuator&) = delete;
  CpusetActuator& operator=(const CpusetActuator&) = delete;
  ~CpusetActuator() = default;

  // Gives the application the last `cpus` CPUs of the pool (1..pool size):
  // journal first, then the write, then waits (at most `wait_limit`) until
  // its threads are seen on them. A cgroup that disappeared, or one whose
  // processes all exited, is an Error naming it (ENOENT / ESRCH).
  Result<ResizeResult> resize(unsigned cpus, std::chrono::milliseconds wait_limit = std::chrono::milliseconds(1000));

  // Marks the journal complete (the resizes so far are whole); the journal
  // stays for `aether partition revert`.
  Result<void> finish();

  [[nodiscard]] const std::vector<unsigned>& pool() const noexcept { return pool_; }
  [[nodiscard]] const std::vector<unsigned>& cpus() const noexcept { return cpus_; }
  [[nodiscard]] const std::string& cgroup() const noexcept { return cgroup_; }
  [[nodiscard]] bool cgroup_v1() const noexcept { return v1_; }
  [[nodiscard]] const std::filesystem::path& journal_path() const noexcept { return journal_.path(); }

 private:
  CpusetActuator(partition::HostAccess& host, ActuatorConfig config, partition::Journal journal, bool v1,
                 std::vector<unsigned> pool, std::vector<unsigned> cpus)
      : host_(&host), config_(std::move(config)), cgroup_(config_.cgroup), journal_(std::move(journal)), v1_(v1),
        pool_(std::move(pool)), cpus_(std::move(cpus)) {}
  void step(std::string_view name) const {
    if (config_.on_step) config_.on_step(name);
  }
  Result<std::vector<pid_t>> member_threads() const;
  ActuationTiming wait_until_seen(const std::vector<unsigned>& cpus, std::chrono::steady_clock::time_point start,
                                  std::chrono::milliseconds wait_limit) const;

  partition::HostAccess* host_;
  ActuatorConfig config_;
  std::string cgroup_;
  partition::Journal journal_;
  bool v1_ = true;
  std::vector<unsigned> pool_;
  std::vector<unsigned> cpus_;
};

// The cpuset cgroup directory of process `pid` (v1 `cpuset:` line of
// /proc/PID/cgroup under the v1 cpuset mount, else the v2 `0::` line under
// the v2 mount). ESRCH when the process does not exist.
Result<std::string> cpuset_cgroup_of(partition::HostAccess& host, pid_t pid);

// The CPU each thread `tid` last ran on and whether it is runnable
// (/proc/TID/stat fields 3 and 39, proc(5)); nullopt when it is gone.
struct ThreadPlace {
  unsigned cpu = 0;
  bool runnable = false;
};
std::optional<ThreadPlace> read_thread_place(std::string_view stat_text);

}  // namespace aether::fluid
