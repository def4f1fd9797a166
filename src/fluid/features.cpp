#include "aether/fluid/features.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace aether::fluid {

std::uint64_t FeatureVector::total_syscalls() const noexcept {
  std::uint64_t total = 0;
  for (const std::uint64_t count : counts.syscalls) total += count;
  return total;
}

double FeatureVector::mean_runqueue_wait_ns() const noexcept {
  if (counts.runqueue_waits == 0) return 0.0;
  return static_cast<double>(counts.runqueue_wait_ns) / static_cast<double>(counts.runqueue_waits);
}

double FeatureVector::cpu_share() const noexcept {
  if (interval_ns == 0) return 0.0;
  return static_cast<double>(cpu_ns) / static_cast<double>(interval_ns);
}

double FeatureVector::softirq_share() const noexcept {
  if (interval_ns == 0 || watched_cpus == 0) return 0.0;
  return static_cast<double>(counts.softirq_ns) / (static_cast<double>(interval_ns) * static_cast<double>(watched_cpus));
}

CounterSnapshot difference(const CounterSnapshot& after, const CounterSnapshot& before) noexcept {
  // Counters only grow while the program is loaded; a smaller "after" can
  // only be a caller mixing snapshots of two programs, so clamp to 0.
  const auto minus = [](std::uint64_t a, std::uint64_t b) { return a >= b ? a - b : 0; };
  CounterSnapshot result;
  for (std::size_t i = 0; i < result.syscalls.size(); ++i) result.syscalls[i] = minus(after.syscalls[i], before.syscalls[i]);
  result.user_page_faults = minus(after.user_page_faults, before.user_page_faults);
  result.voluntary_switches = minus(after.voluntary_switches, before.voluntary_switches);
  result.involuntary_switches = minus(after.involuntary_switches, before.involuntary_switches);
  result.runqueue_wait_ns = minus(after.runqueue_wait_ns, before.runqueue_wait_ns);
  result.runqueue_waits = minus(after.runqueue_waits, before.runqueue_waits);
  result.softirq_ns = minus(after.softirq_ns, before.softirq_ns);
  return result;
}

nlohmann::json to_json(const FeatureVector& features) {
  nlohmann::json syscalls = nlohmann::json::object();
  for (std::size_t i = 0; i < syscall_class_count; ++i) {
    syscalls[std::string(syscall_class_name(static_cast<SyscallClass>(i)))] = features.counts.syscalls[i];
  }
  nlohmann::json pmu = nlohmann::json::object();
  if (features.pmu.instructions_per_cycle) pmu["instructions_per_cycle"] = *features.pmu.instructions_per_cycle;
  if (features.pmu.llc_misses) pmu["llc_misses"] = *features.pmu.llc_misses;
  if (!features.pmu.unavailable_reason.empty()) pmu["unavailable"] = features.pmu.unavailable_reason;
  return {
      {"interval", features.interval_index},
      {"interval_ns", features.interval_ns},
      {"watched_tgids", features.watched_tgids},
      {"watched_cpus", features.watched_cpus},
      {"syscalls", syscalls},
      {"user_page_faults", features.counts.user_page_faults},
      {"voluntary_switches", features.counts.voluntary_switches},
      {"involuntary_switches", features.counts.involuntary_switches},
      {"runqueue_wait_ns", features.counts.runqueue_wait_ns},
      {"runqueue_waits", features.counts.runqueue_waits},
      {"mean_runqueue_wait_ns", features.mean_runqueue_wait_ns()},
      {"softirq_ns", features.counts.softirq_ns},
      {"softirq_share", features.softirq_share()},
      {"cpu_ns", features.cpu_ns},
      {"cpu_share", features.cpu_share()},
      {"pmu", pmu},
  };
}

std::string format_feature_line(const FeatureVector& features) {
  const auto& counts = features.counts;
  const std::string pmu = features.pmu.unavailable_reason.empty()
                              ? fmt::format("ipc={:.2f} llc_miss={}", features.pmu.instructions_per_cycle.value_or(0.0),
                                            features.pmu.llc_misses.value_or(0))
                              : std::string("pmu=unavailable");
  return fmt::format(
      "#{:<4} {:6.1f}ms tgids={} sys io={} net={} mem={} sync={} other={} | faults={} | csw vol={} invol={} | "
      "rq wait mean={:.1f}us | softirq={:.2f}% | cpu={:.0f}% | {}",
      features.interval_index, static_cast<double>(features.interval_ns) / 1e6, features.watched_tgids,
      counts.syscalls[0], counts.syscalls[1], counts.syscalls[2], counts.syscalls[3], counts.syscalls[4],
      counts.user_page_faults, counts.voluntary_switches, counts.involuntary_switches,
      features.mean_runqueue_wait_ns() / 1e3, features.softirq_share() * 100.0, features.cpu_share() * 100.0, pmu);
}

}  // namespace aether::fluid
