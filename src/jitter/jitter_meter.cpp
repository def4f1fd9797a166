// The jitter meter's measurement: pinned spinners behind a common start.
#include "aether/jitter/jitter_meter.hpp"

#include <algorithm>
#include <atomic>
#include <ctime>
#include <thread>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/core/cpu_topology.hpp"
#include "aether/core/host_environment.hpp"
#include "aether/core/log.hpp"
#include "aether/core/thread_setup.hpp"

namespace aether {
namespace {

inline void cpu_relax() noexcept { __builtin_ia32_pause(); }

// What the coordinator publishes once every spinner is pinned and ready.
// start_tick == 0 means "not yet"; abort means "a spinner failed, go home".
struct StartSignal {
  std::atomic<std::uint64_t> start_tick{0};
  std::atomic<std::uint64_t> end_tick{0};
  std::atomic<bool> abort{false};
  std::atomic<unsigned> ready{0};
};

struct Spinner {
  unsigned cpu = 0;
  std::optional<CpuJitter> result;
  std::optional<Error> error;
};

// The hot loop. Ticks is TscTicks or MonotonicTicks, chosen once
// (STYLE.md convention 9). A gap is converted to ns only when it is above the
// threshold: that path runs right after an interruption, and its cost lands
// in the next interval, far below the threshold.
template <class Ticks>
void spin_window(std::uint64_t start, std::uint64_t end, std::uint64_t threshold_ticks, const Clock& clock,
                 CpuJitter& out) noexcept {
  while (Ticks::now() < start) cpu_relax();
  const std::uint64_t first = Ticks::now();
  std::uint64_t previous = first;
  std::uint64_t now = first;
  std::uint64_t iterations = 0;
  std::uint64_t stolen_ticks = 0;
  std::uint64_t longest_ticks = 0;
  std::uint64_t longest_end = first;
  do {
    now = Ticks::now();
    const std::uint64_t gap = now - previous;
    ++iterations;
    if (gap > threshold_ticks) {
      out.gaps.record(clock.to_ns(gap));
      stolen_ticks += gap;
      if (gap > longest_ticks) {
        longest_ticks = gap;
        longest_end = now;
      }
    }
    previous = now;
  } while (now < end);
  out.measured_ns = clock.to_ns(now - first);
  out.stolen_ns = clock.to_ns(stolen_ticks);
  out.loop_iterations = iterations;
  out.longest_gap_ns = clock.to_ns(longest_ticks);
  out.longest_gap_offset_ns = clock.to_ns(longest_end - first);
}

void run_spinner(Spinner& spinner, const JitterConfig& config, const Clock& clock, StartSignal& signal) {
  auto fail = [&](Error error) {
    spinner.error = std::move(error);
    signal.ready.fetch_add(1, std::memory_order_release);
  };
  if (auto pinned = pin_current_thread(spinner.cpu); !pinned) return fail(pinned.error());
  if (config.fifo_priority) {
    if (auto fifo = set_fifo_priority(*config.fifo_priority); !fifo) return fail(fifo.error());
  }
  prefault_stack();
  // Allocate after pinning so the histogram lands on this CPU's NUMA node.
  CpuJitter result;
  result.cpu = spinner.cpu;
  const std::uint64_t threshold_ticks = clock.from_ns(config.threshold_ns);

  // release: pairs with the coordinator's acquire load of `ready`, so our
  // setup is complete before it publishes the start.
  signal.ready.fetch_add(1, std::memory_order_release);
  std::uint64_t start = 0;
  // acquire: pairs with the coordinator's release store of start_tick, which
  // it makes after storing end_tick and abort.
  while ((start = signal.start_tick.load(std::memory_order_acquire)) == 0) cpu_relax();
  if (signal.abort.load(std::memory_order_relaxed)) return;
  const std::uint64_t end = signal.end_tick.load(std::memory_order_relaxed);

  if (clock.source() == ClockSource::tsc) {
    spin_window<TscTicks>(start, end, threshold_ticks, clock, result);
  } else {
    spin_window<MonotonicTicks>(start, end, threshold_ticks, clock, result);
  }
  spinner.result = std::move(result);
}

// What else shapes the figures: idle states, frequency scaling, RT throttling.
void describe_environment(JitterReport& report) {
  for (const auto& [key, value] : describe_host_environment()) report.environment.push_back(fmt::format("{}: {}", key, value));
  if (report.config.fifo_priority) {
    if (const auto rt = read_rt_bandwidth(); rt && rt->throttling_on()) {
      report.warnings.push_back(fmt::format(
          "RT throttling is on (kernel.sched_rt_runtime_us={}): a SCHED_FIFO spinner is stopped for "
          "~{} ms every second; set it to -1 to measure without throttling",
          rt->runtime_us, rt->stopped_us() / 1000));
    }
  }
}

}  // namespace

double CpuJitter::interruptions_per_second() const noexcept {
  return measured_ns == 0 ? 0.0 : static_cast<double>(interruptions()) * 1e9 / static_cast<double>(measured_ns);
}

double CpuJitter::stolen_percent() const noexcept {
  return measured_ns == 0 ? 0.0 : 100.0 * static_cast<double>(stolen_ns) / static_cast<double>(measured_ns);
}

double CpuJitter::loop_period_ns() const noexcept {
  return loop_iterations == 0 ? 0.0 : static_cast<double>(measured_ns) / static_cast<double>(loop_iterations);
}

Result<void> validate(const JitterConfig& config) {
  if (config.cpus.empty()) return invalid_argument("no CPU selected to measure");
  if (config.duration <= std::chrono::nanoseconds::zero()) {
    return invalid_argument(fmt::format("duration must be positive, got {} ns", config.duration.count()));
  }
  if (config.threshold_ns == 0) return invalid_argument("threshold must be at least 1 ns");
  if (config.fifo_priority && (*config.fifo_priority < 1 || *config.fifo_priority > 99)) {
    return invalid_argument(fmt::format("SCHED_FIFO priority must be 1..99, got {}", *config.fifo_priority));
  }
  auto host = read_host_cpus();
  if (!host) return std::move(host).error();
  auto allowed = allowed_cpus();
  if (!allowed) return std::move(allowed).error();
  auto selected = config.cpus;
  std::sort(selected.begin(), selected.end());
  if (std::adjacent_find(selected.begin(), selected.end()) != selected.end()) {
    return invalid_argument(fmt::format("CPU list {} names a CPU twice", format_cpu_list(config.cpus)));
  }
  for (unsigned cpu : config.cpus) {
    if (std::find(host->online.begin(), host->online.end(), cpu) == host->online.end()) {
      return invalid_argument(fmt::format("CPU {} is not online (online CPUs: {})", cpu, format_cpu_list(host->online)));
    }
    if (std::find(allowed->begin(), allowed->end(), cpu) == allowed->end()) {
      return invalid_argument(fmt::format(
          "CPU {} is outside this process's allowed set {} (set by taskset or a cpuset cgroup)", cpu,
          format_cpu_list(*allowed)));
    }
  }
  return {};
}

Result<JitterReport> measure_jitter(const JitterConfig& config, const Clock& clock) {
  if (auto valid = validate(config); !valid) return std::move(valid).error();

  JitterReport report;
  report.config = config;
  report.clock_source = clock.source() == ClockSource::tsc
                            ? std::string("tsc")
                            : fmt::format("monotonic_raw ({})", clock.fallback_reason());
  report.tsc_ghz = clock.source() == ClockSource::tsc ? clock.tsc_ghz() : 0.0;
  describe_environment(report);
  if (config.lock_memory) {
    if (auto locked = lock_all_memory(); !locked) {
      report.warnings.push_back(fmt::format("memory not locked, page faults may show as gaps: {}",
                                            locked.error().describe()));
    }
  }

  std::vector<Spinner> spinners(config.cpus.size());
  for (std::size_t i = 0; i < spinners.size(); ++i) spinners[i].cpu = config.cpus[i];
  StartSignal signal;
  std::vector<std::thread> threads;
  threads.reserve(spinners.size());
  for (auto& spinner : spinners) {
    threads.emplace_back([&spinner, &config, &clock, &signal] { run_spinner(spinner, config, clock, signal); });
  }

  // The coordinator sleeps rather than spins: it may share a CPU with a spinner.
  while (signal.ready.load(std::memory_order_acquire) < spinners.size()) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  const bool failed = std::any_of(spinners.begin(), spinners.end(), [](const Spinner& s) { return s.error.has_value(); });
  // Start 2 ms from now so every spinner is already polling when the window opens.
  const std::uint64_t now_tick = clock.now();
  const std::uint64_t start_tick = now_tick + clock.from_ns(2'000'000);
  timespec realtime{};
  clock_gettime(CLOCK_REALTIME, &realtime);
  report.window_start_unix_ns = static_cast<std::int64_t>(realtime.tv_sec) * 1'000'000'000 + realtime.tv_nsec + 2'000'000;
  signal.abort.store(failed, std::memory_order_relaxed);
  signal.end_tick.store(start_tick + clock.from_ns(static_cast<std::uint64_t>(config.duration.count())),
                        std::memory_order_relaxed);
  // release: publishes abort and end_tick with it (see run_spinner's acquire).
  signal.start_tick.store(start_tick, std::memory_order_release);
  for (auto& thread : threads) thread.join();

  for (auto& spinner : spinners) {
    if (spinner.error) {
      return Error{spinner.error->code, fmt::format("CPU {}: {}", spinner.cpu, spinner.error->message)};
    }
    report.cpus.push_back(std::move(*spinner.result));
  }
  return report;
}

}  // namespace aether
