#include "aether/fluid/pmu.hpp"

#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace aether::fluid {
namespace {

int perf_event_open(perf_event_attr& attr, pid_t tid) {
  return static_cast<int>(::syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

// What an errno from perf_event_open means for a hardware counter
// (perf_event_open(2), ERRORS).
std::string perf_error_reason(const char* event, int error) {
  switch (error) {
    case ENOENT:
    case EOPNOTSUPP:
    case ENODEV:
      return fmt::format("no hardware PMU counter '{}' on this machine (perf_event_open: {}; a VM without a virtual PMU?)",
                         event, std::strerror(error));
    case EACCES:
    case EPERM:
      return fmt::format("perf_event_open of '{}' refused ({}): kernel.perf_event_paranoid too high or CAP_PERFMON missing",
                         event, std::strerror(error));
    default:
      return fmt::format("perf_event_open of '{}' failed: {}", event, std::strerror(error));
  }
}

std::uint64_t sum(const std::vector<UniqueFd>& fds) {
  std::uint64_t total = 0;
  for (const UniqueFd& fd : fds) {
    std::uint64_t value = 0;
    if (::read(fd.get(), &value, sizeof value) == static_cast<ssize_t>(sizeof value)) total += value;
  }
  return total;
}

}  // namespace

void PmuCounters::open(const std::vector<pid_t>& tgids) {
  instructions_.clear();
  cycles_.clear();
  llc_misses_.clear();
  last_ = {};
  reason_.clear();
  struct Event {
    const char* name;
    std::uint64_t config;
    std::vector<UniqueFd>* fds;
  };
  const Event events[] = {{"instructions", PERF_COUNT_HW_INSTRUCTIONS, &instructions_},
                          {"cycles", PERF_COUNT_HW_CPU_CYCLES, &cycles_},
                          {"cache-misses", PERF_COUNT_HW_CACHE_MISSES, &llc_misses_}};
  for (const pid_t tgid : tgids) {
    std::error_code ignored;
    for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", tgid), ignored)) {
      const pid_t tid = static_cast<pid_t>(std::atoi(task.path().filename().c_str()));
      for (const Event& event : events) {
        perf_event_attr attr{};
        attr.size = sizeof attr;
        attr.type = PERF_TYPE_HARDWARE;
        attr.config = event.config;
        attr.inherit = 1;          // threads and children created later
        attr.exclude_kernel = 1;   // the application's own code
        attr.exclude_hv = 1;
        const int fd = perf_event_open(attr, tid);
        if (fd < 0) {
          const int error = errno;
          if (error == ESRCH) break;  // the thread exited meanwhile
          reason_ = perf_error_reason(event.name, error);
          instructions_.clear();
          cycles_.clear();
          llc_misses_.clear();
          return;
        }
        event.fds->emplace_back(fd);
      }
    }
  }
  if (instructions_.empty()) reason_ = "no thread of the watched tgids could be counted";
}

PmuFigures PmuCounters::read_interval() {
  PmuFigures figures;
  if (!available()) {
    figures.unavailable_reason = reason_;
    return figures;
  }
  const Totals now{sum(instructions_), sum(cycles_), sum(llc_misses_)};
  const std::uint64_t cycles = now.cycles - last_.cycles;
  if (cycles > 0) figures.instructions_per_cycle = static_cast<double>(now.instructions - last_.instructions) / static_cast<double>(cycles);
  figures.llc_misses = now.llc_misses - last_.llc_misses;
  last_ = now;
  return figures;
}

}  // namespace aether::fluid
