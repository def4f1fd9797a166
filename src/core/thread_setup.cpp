// Pinning, SCHED_FIFO, mlockall and stack prefaulting for the calling thread.
#include "aether/core/thread_setup.hpp"

#include <alloca.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/core/text_file.hpp"

namespace aether {
namespace {

// A glibc dynamically sized cpu_set_t (CPU_ALLOC(3)), so that CPUs beyond
// CPU_SETSIZE (1024) can be named.
class CpuMask {
 public:
  explicit CpuMask(unsigned cpu_count)
      : cpu_count_(cpu_count), bytes_(CPU_ALLOC_SIZE(cpu_count)), set_(CPU_ALLOC(cpu_count)) {
    if (set_) CPU_ZERO_S(bytes_, set_.get());
  }
  bool allocated() const noexcept { return set_ != nullptr; }
  cpu_set_t* get() noexcept { return set_.get(); }
  std::size_t bytes() const noexcept { return bytes_; }
  void set(unsigned cpu) noexcept { CPU_SET_S(cpu, bytes_, set_.get()); }
  std::vector<unsigned> members() const {
    std::vector<unsigned> cpus;
    for (unsigned cpu = 0; cpu < cpu_count_; ++cpu) {
      if (CPU_ISSET_S(cpu, bytes_, set_.get())) cpus.push_back(cpu);
    }
    return cpus;
  }

 private:
  struct Free {
    void operator()(cpu_set_t* set) const noexcept { CPU_FREE(set); }
  };
  unsigned cpu_count_;
  std::size_t bytes_;
  std::unique_ptr<cpu_set_t, Free> set_;
};

// Explains why `cpu` cannot be pinned to, from the online and allowed sets.
std::string pin_failure_reason(unsigned cpu) {
  const char* online_path = "/sys/devices/system/cpu/online";
  auto online_text = detail::read_text_file(online_path);
  auto online = online_text ? parse_cpu_list(*online_text) : Result<std::vector<unsigned>>(online_text.error());
  auto allowed = allowed_cpus();
  std::string reason;
  if (online && !cpu_list_contains(*online, cpu)) {
    reason = fmt::format("CPU {} is offline or does not exist (online CPUs: {})", cpu, format_cpu_list(*online));
  } else if (allowed && !cpu_list_contains(*allowed, cpu)) {
    reason = fmt::format("CPU {} is outside this thread's allowed set (set by taskset, sched_setaffinity or a cgroup "
                         "cpuset)",
                         cpu);
  } else {
    reason = fmt::format("CPU {} was refused", cpu);
  }
  if (allowed) reason += fmt::format("; allowed CPUs: {}", format_cpu_list(*allowed));
  return reason;
}

std::string limit_text(rlim_t limit) {
  return limit == RLIM_INFINITY ? std::string("unlimited") : fmt::format("{} bytes", limit);
}

// Bytes of the calling thread's stack between the lowest usable address and
// the caller's frame; 0 if unknown.
std::size_t stack_bytes_below(const void* frame) noexcept {
  pthread_attr_t attributes;
  if (pthread_getattr_np(pthread_self(), &attributes) != 0) return 0;
  void* lowest = nullptr;
  std::size_t size = 0;
  const int error = pthread_attr_getstack(&attributes, &lowest, &size);
  pthread_attr_destroy(&attributes);
  if (error != 0) return 0;
  const auto low = reinterpret_cast<std::uintptr_t>(lowest);
  const auto here = reinterpret_cast<std::uintptr_t>(frame);
  return here > low ? here - low : 0;
}

}  // namespace

Result<std::vector<unsigned>> allowed_cpus() {
  // The kernel refuses (EINVAL) a mask smaller than its nr_cpu_ids; grow until it fits.
  for (unsigned cpu_count = CPU_SETSIZE; cpu_count <= (max_cpu_id + 1) * 4; cpu_count *= 2) {
    CpuMask mask(cpu_count);
    if (!mask.allocated()) return errno_error(fmt::format("cannot allocate a mask of {} CPUs", cpu_count), ENOMEM);
    if (sched_getaffinity(0, mask.bytes(), mask.get()) == 0) return mask.members();
    if (errno != EINVAL) return errno_error("sched_getaffinity of the calling thread failed");
  }
  return errno_error("sched_getaffinity of the calling thread failed: the kernel has more CPUs than Aether supports",
                     EINVAL);
}

Result<void> pin_current_thread(unsigned cpu) {
  if (cpu > max_cpu_id) return invalid_argument(fmt::format("cannot pin to CPU {}: {}", cpu, pin_failure_reason(cpu)));
  CpuMask mask(cpu + 1);
  if (!mask.allocated()) return errno_error(fmt::format("cannot pin to CPU {}: no memory for the mask", cpu), ENOMEM);
  mask.set(cpu);
  // pid 0: the calling thread, not the whole process (sched_setaffinity(2)).
  if (sched_setaffinity(0, mask.bytes(), mask.get()) != 0) {
    const int error = errno;
    return errno_error(fmt::format("cannot pin to CPU {}: {}", cpu, pin_failure_reason(cpu)), error);
  }
  return {};
}

Result<void> set_fifo_priority(int priority) {
  const int lowest = sched_get_priority_min(SCHED_FIFO);  // 1 on Linux, sched(7)
  const int highest = sched_get_priority_max(SCHED_FIFO);  // 99 on Linux
  if (priority < lowest || priority > highest) {
    return invalid_argument(fmt::format("SCHED_FIFO priority must be {}..{}, got {}", lowest, highest, priority));
  }
  sched_param parameters{};
  parameters.sched_priority = priority;
  // Returns the error number instead of setting errno (pthread_setschedparam(3)).
  if (const int error = pthread_setschedparam(pthread_self(), SCHED_FIFO, &parameters); error != 0) {
    if (error == EPERM) {
      return errno_error(fmt::format("cannot make this thread SCHED_FIFO priority {}: needs CAP_SYS_NICE or root "
                                     "(or RLIMIT_RTPRIO >= {}); once allowed, note RT throttling: unless "
                                     "kernel.sched_rt_runtime_us is -1 a spinning RT thread is stopped for part of "
                                     "every period",
                                     priority, priority),
                         error);
    }
    return errno_error(fmt::format("cannot make this thread SCHED_FIFO priority {}", priority), error);
  }
  return {};
}

Result<void> lock_all_memory() {
  if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) return {};
  const int error = errno;
  rlimit limit{};
  std::string limits = "unknown";
  if (getrlimit(RLIMIT_MEMLOCK, &limit) == 0) {
    limits = fmt::format("soft {}, hard {}", limit_text(limit.rlim_cur), limit_text(limit.rlim_max));
  }
  return errno_error(fmt::format("mlockall(MCL_CURRENT | MCL_FUTURE) failed: RLIMIT_MEMLOCK (ulimit -l) is {}; raise it "
                                 "(limits.conf memlock, systemd LimitMEMLOCK=) or grant CAP_IPC_LOCK",
                                 limits),
                     error);
}

// noinline: the alloca must come off this function's own frame, freed on return.
[[gnu::noinline]] void prefault_stack(std::size_t bytes) noexcept {
  constexpr std::size_t kept_free = 64 * 1024;  // left for the calls the caller makes later
  const std::size_t below = stack_bytes_below(__builtin_frame_address(0));
  if (below == 0) {
    bytes = std::min<std::size_t>(bytes, 256 * 1024);  // unknown stack: stay within any default stack
  } else {
    bytes = std::min(bytes, below > kept_free ? below - kept_free : 0);
  }
  if (bytes == 0) return;

  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  // volatile: every store must happen, although nothing reads the region.
  auto* region = static_cast<volatile unsigned char*>(alloca(bytes));
  for (std::size_t offset = bytes; offset > 0; offset -= std::min(offset, page)) region[offset - 1] = 0;
  region[0] = 0;
}

Result<void> setup_current_core(const CoreSetupOptions& options) {
  if (auto pinned = pin_current_thread(options.cpu); !pinned) return pinned;
  if (options.fifo_priority) {
    if (auto fifo = set_fifo_priority(*options.fifo_priority); !fifo) return fifo;
  }
  if (options.lock_memory) {
    if (auto locked = lock_all_memory(); !locked) return locked;
  }
  if (options.prefault_stack_bytes > 0) prefault_stack(options.prefault_stack_bytes);
  return {};
}

Result<int> read_rt_runtime_us(const std::filesystem::path& proc_root) {
  const std::filesystem::path path = proc_root / "sys/kernel/sched_rt_runtime_us";
  auto text = detail::read_text_file(path);
  if (!text) return std::move(text).error();
  return detail::parse_int_value(path, *text);
}

Result<int> read_rt_period_us(const std::filesystem::path& proc_root) {
  const std::filesystem::path path = proc_root / "sys/kernel/sched_rt_period_us";
  auto text = detail::read_text_file(path);
  if (!text) return std::move(text).error();
  return detail::parse_int_value(path, *text);
}

Result<RtBandwidth> read_rt_bandwidth(const std::filesystem::path& proc_root) {
  auto runtime = read_rt_runtime_us(proc_root);
  if (!runtime) return std::move(runtime).error();
  const auto period = read_rt_period_us(proc_root);
  return RtBandwidth{*runtime, period ? *period : 1'000'000};
}

}  // namespace aether
