// Who used the benchmark's CPUs during a measured window: every thread of
// the processes under test (its CPU time, how long it waited runnable for a
// CPU, how often it was switched out), and each CPU's busy, steal and
// "someone else" time. A busy-polling worker should own its CPU; when it
// does not, this names what ran instead (issue 12: the SCHED_OTHER loss).
//
// Sources (proc(5)): /proc/PID/task/TID/schedstat ("run ns, wait ns,
// timeslices", the scheduler's own ns counters, CONFIG_SCHED_INFO),
// /proc/PID/task/TID/status (voluntary_ctxt_switches,
// nonvoluntary_ctxt_switches), /proc/PID/task/TID/stat field 39 (the CPU it
// last ran on) and /proc/stat's per-CPU lines (USER_HZ ticks: 10 ms).
// Control path only: a snapshot reads a few files per thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace aether::measure {

struct ThreadSample {
  pid_t pid = 0;
  pid_t tid = 0;
  std::string name;               // comm
  std::uint64_t run_ns = 0;       // on a CPU
  std::uint64_t wait_ns = 0;      // runnable, waiting for a CPU
  std::uint64_t voluntary_switches = 0;
  std::uint64_t involuntary_switches = 0;  // preempted
  int last_cpu = -1;
};

struct CpuTicks {
  unsigned cpu = 0;
  std::uint64_t busy = 0;   // user + nice + system + irq + softirq (USER_HZ ticks)
  std::uint64_t idle = 0;   // idle + iowait
  std::uint64_t steal = 0;  // the hypervisor ran something else on this vCPU
};

struct CpuSnapshot {
  std::chrono::steady_clock::time_point time;
  std::vector<ThreadSample> threads;
  std::vector<CpuTicks> cpus;
};

// Every thread of `pids` (a process that is gone is skipped) and every CPU.
[[nodiscard]] CpuSnapshot take_cpu_snapshot(std::span<const pid_t> pids);

// One thread over a window: the differences of its counters.
struct ThreadUsage {
  pid_t pid = 0;
  pid_t tid = 0;
  std::string name;
  int cpu = -1;  // where it last ran
  std::uint64_t run_ns = 0, wait_ns = 0, voluntary_switches = 0, involuntary_switches = 0;
};

// One CPU over a window, in shares of the window (0..1).
struct CpuShare {
  unsigned cpu = 0;
  double busy = 0;
  double steal = 0;
  double tracked = 0;  // threads of the watched processes that last ran here
  double others = 0;   // busy - tracked (>= 0): other processes, kernel threads, interrupts
};

struct CpuAccounting {
  double seconds = 0;
  std::vector<ThreadUsage> threads;  // those that ran or waited in the window, most run time first
  std::vector<CpuShare> cpus;        // only the CPUs asked for
  // The thread named `name` (first match), if it was seen.
  [[nodiscard]] const ThreadUsage* thread(std::string_view name) const noexcept;
};

// The window between two snapshots, for `cpus`. Threads that appear only in
// `after` count from zero; those only in `before` are left out (they ended).
[[nodiscard]] CpuAccounting account_cpu_time(const CpuSnapshot& before, const CpuSnapshot& after,
                                             std::span<const unsigned> cpus);

// One line per CPU: "CPU 0: busy 99.5%, steal 0.4%: aether-send 97.0% (waited
// 1.2%, 130 preemptions), ... other processes ~2.1%".
[[nodiscard]] std::string format_cpu_accounting(const CpuAccounting& accounting, std::string_view indent);
[[nodiscard]] nlohmann::json cpu_accounting_to_json(const CpuAccounting& accounting);

// Parsers, public for their tests.
// schedstat: "run_ns wait_ns timeslices".
[[nodiscard]] std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_schedstat(std::string_view text);
// The value of `key:` in a status file.
[[nodiscard]] std::optional<std::uint64_t> parse_status_value(std::string_view status, std::string_view key);
// Field 39 (processor) of a stat line; the comm may hold spaces and ')'.
[[nodiscard]] std::optional<int> parse_stat_last_cpu(std::string_view stat);
// The "cpuN ..." lines of /proc/stat.
[[nodiscard]] std::vector<CpuTicks> parse_proc_stat_cpus(std::string_view text);

}  // namespace aether::measure
