// Tasks (threads) and the CPUs they are allowed on, from /proc.
//
// Per thread (proc(5)): /proc/PID/task/TID/status gives Name, Tgid and
// Cpus_allowed_list; /proc/PID/task/TID/stat gives the flags (field 9) and
// the start time in clock ticks since boot (field 22), which with the TID
// identifies a task across PID reuse. Flags (include/linux/sched.h):
// PF_KTHREAD 0x00200000 (a kernel thread), PF_NO_SETAFFINITY 0x04000000
// (user space may not change its affinity: per-CPU kthreads such as
// ksoftirqd/N, migration/N, bound kworkers; sched_setaffinity fails EINVAL).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aether/partition/host_access.hpp"

namespace aether::partition {

inline constexpr std::uint64_t task_flag_kernel_thread = 0x00200000;   // PF_KTHREAD
inline constexpr std::uint64_t task_flag_no_setaffinity = 0x04000000;  // PF_NO_SETAFFINITY

struct TaskInfo {
  pid_t tid = 0;
  pid_t tgid = 0;
  std::string name;
  std::vector<unsigned> allowed;  // Cpus_allowed_list
  std::uint64_t flags = 0;
  std::uint64_t start_time = 0;  // clock ticks after boot

  [[nodiscard]] bool kernel_thread() const noexcept { return (flags & task_flag_kernel_thread) != 0; }
  // A kthread the kernel keeps on its CPU(s): user space cannot move it.
  [[nodiscard]] bool pinned_by_kernel() const noexcept { return (flags & task_flag_no_setaffinity) != 0; }
};

// Every thread of every process. Tasks that exit while being read are
// skipped.
std::vector<TaskInfo> read_tasks(const HostAccess& host);

// One thread, by TID (looked up as /proc/TID/task/TID, which procfs resolves
// for any thread ID, else among the processes); std::nullopt if it is gone.
std::optional<TaskInfo> read_task(const HostAccess& host, pid_t tid);

// Parses the fields used here from stat text; false if malformed. The name
// in parentheses may itself contain spaces and parentheses, so the fields
// start after the last ')'.
bool parse_task_stat(std::string_view stat, std::uint64_t& flags, std::uint64_t& start_time);

}  // namespace aether::partition
