// Preparing the calling thread to run a hot loop: pin it, optionally make it
// SCHED_FIFO, lock memory and prefault its stack, in the order rt-tests'
// cyclictest uses (STYLE.md convention 11). All control path; call these
// before the loop starts, then allocate what the loop needs (after pinning,
// so that first-touch places the pages on the pinned CPU's NUMA node).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <vector>

#include "aether/core/result.hpp"

namespace aether {

// Pins the calling thread to `cpu` (sched_setaffinity on the calling thread).
// Errors name the CPU and say whether it is offline / absent or outside the
// thread's allowed set (taskset, cgroup cpuset), and list the allowed CPUs.
Result<void> pin_current_thread(unsigned cpu);

// The CPUs the calling thread may run on (sched_getaffinity), sorted.
Result<std::vector<unsigned>> allowed_cpus();

// Makes the calling thread SCHED_FIFO at `priority` (1..99, the Linux range of
// sched_get_priority_min/max(SCHED_FIFO); anything else is invalid_argument).
// EPERM: needs CAP_SYS_NICE (or root, or RLIMIT_RTPRIO >= priority).
// Beware RT throttling: unless kernel.sched_rt_runtime_us is -1, RT threads
// get at most sched_rt_runtime_us of every sched_rt_period_us (default 950 ms
// per 1 s), so a spinning SCHED_FIFO thread is stopped for ~50 ms each second
// (Documentation/scheduler/sched-rt-group.rst). See read_rt_runtime_us().
Result<void> set_fifo_priority(int priority);

// mlockall(MCL_CURRENT | MCL_FUTURE): no page of the process is swapped out
// or faults later for lack of residency. ENOMEM/EPERM errors quote
// RLIMIT_MEMLOCK (ulimit -l) and say CAP_IPC_LOCK lifts it.
// Not reversible by this API (munlockall() would be).
Result<void> lock_all_memory();

// Touches `bytes` of stack below the caller's frame, one write per page, so
// that the pages are mapped (and locked, after lock_all_memory) before the hot
// loop; otherwise its first deep call takes page faults. Clamped so that at
// least 64 KiB of the thread's stack stay untouched below the region.
void prefault_stack(std::size_t bytes = 256 * 1024) noexcept;

struct CoreSetupOptions {
  unsigned cpu = 0;
  std::optional<int> fifo_priority;  // none: keep the current policy
  bool lock_memory = true;
  std::size_t prefault_stack_bytes = 256 * 1024;  // 0: skip
};

// pin_current_thread -> set_fifo_priority (if asked) -> lock_all_memory (if
// asked) -> prefault_stack, in that order: pinning first so that everything
// after runs (and faults memory in) on the target CPU. Stops at the first
// failure and returns it; that includes mlockall, because an unlocked hot loop
// can take major faults, and it is the caller's call whether to carry on.
// Earlier steps are not undone.
Result<void> setup_current_core(const CoreSetupOptions& options);

// /proc/sys/kernel/sched_rt_runtime_us: microseconds of each RT period that RT
// threads may use; -1 means RT throttling is off.
Result<int> read_rt_runtime_us(const std::filesystem::path& proc_root = "/proc");

// /proc/sys/kernel/sched_rt_period_us: the RT period in microseconds.
Result<int> read_rt_period_us(const std::filesystem::path& proc_root = "/proc");

// Whether the kernel throttles RT threads with these settings: not when the
// runtime is -1, nor when it covers the whole period (kernel/sched/rt.c,
// sched_rt_runtime_exceeded(): runtime >= period never throttles; some
// distributions boot with runtime = period).
[[nodiscard]] constexpr bool rt_throttling_on(int runtime_us, int period_us) noexcept {
  return runtime_us >= 0 && runtime_us < period_us;
}

// kernel.sched_rt_runtime_us and sched_rt_period_us together.
struct RtBandwidth {
  int runtime_us = -1;
  int period_us = 1'000'000;
  [[nodiscard]] constexpr bool throttling_on() const noexcept { return rt_throttling_on(runtime_us, period_us); }
  // How long a SCHED_FIFO thread that never sleeps is stopped each period.
  [[nodiscard]] constexpr int stopped_us() const noexcept { return throttling_on() ? period_us - runtime_us : 0; }
};

// Both files read; the period defaults to the kernel's 1 s when its file
// cannot be read.
Result<RtBandwidth> read_rt_bandwidth(const std::filesystem::path& proc_root = "/proc");

}  // namespace aether
