// The jitter meter's outputs: a table for people, JSON for machines.
#include <cmath>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/cpu_list.hpp"
#include "aether/jitter/jitter_meter.hpp"

namespace aether {
namespace {

std::string format_unix_ns(std::int64_t unix_ns) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32] = {};
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:06}Z", text, (unix_ns % 1'000'000'000) / 1000);
}

}  // namespace

std::string format_jitter_table(const JitterReport& report) {
  std::string out;
  const auto& config = report.config;
  out += fmt::format("aether jitter: CPUs {}, window {:.2f} s, gaps above {} counted, clock {}", format_cpu_list(config.cpus),
                     std::chrono::duration<double>(config.duration).count(), format_duration_ns(config.threshold_ns),
                     report.clock_source);
  if (report.tsc_ghz > 0) out += fmt::format(" ({:.3f} GHz)", report.tsc_ghz);
  out += fmt::format(", {}\n", config.fifo_priority ? fmt::format("SCHED_FIFO {}", *config.fifo_priority)
                                                    : std::string("SCHED_OTHER"));
  out += fmt::format("window start: {}\n", format_unix_ns(report.window_start_unix_ns));
  for (const auto& line : report.environment) out += fmt::format("  {}\n", line);
  out += "\n";
  out += fmt::format("{:>4} {:>13} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>13} {:>7}\n", "CPU", "interrupts/s", "stolen",
                     "p50", "p99", "p99.9", "p99.99", "max", "longest at", "loop");
  for (const auto& cpu : report.cpus) {
    const auto& gaps = cpu.gaps;
    auto pct = [&](double p) { return gaps.count() == 0 ? std::string("-") : format_duration_ns(gaps.percentile(p)); };
    out += fmt::format("{:>4} {:>13.1f} {:>7.3f}% {:>9} {:>9} {:>9} {:>9} {:>9} {:>13} {:>7}\n", cpu.cpu,
                       cpu.interruptions_per_second(), cpu.stolen_percent(), pct(50), pct(99), pct(99.9), pct(99.99),
                       gaps.count() == 0 ? std::string("-") : format_duration_ns(gaps.max()),
                       gaps.count() == 0 ? std::string("-")
                                         : fmt::format("+{:.3f} s", static_cast<double>(cpu.longest_gap_offset_ns) / 1e9),
                       fmt::format("{:.0f} ns", cpu.loop_period_ns()));
  }
  out += "\ninterrupts/s: gaps above the threshold per second; stolen: their summed length over the window;\n"
         "p50..max: gap lengths; longest at: when the longest gap ended, from the window start; loop: clock-read period.\n";
  for (const auto& warning : report.warnings) out += fmt::format("warning: {}\n", warning);
  return out;
}

nlohmann::json jitter_to_json(const JitterReport& report) {
  const auto& config = report.config;
  nlohmann::json cpus = nlohmann::json::array();
  for (const auto& cpu : report.cpus) {
    cpus.push_back({
        {"cpu", cpu.cpu},
        {"measured_ns", cpu.measured_ns},
        {"interruptions", cpu.interruptions()},
        {"interruptions_per_second", cpu.interruptions_per_second()},
        {"stolen_ns", cpu.stolen_ns},
        {"stolen_percent", cpu.stolen_percent()},
        {"loop_iterations", cpu.loop_iterations},
        {"loop_period_ns", cpu.loop_period_ns()},
        {"longest_gap_ns", cpu.longest_gap_ns},
        {"longest_gap_offset_ns", cpu.longest_gap_offset_ns},
        {"longest_gap_unix_ns", report.window_start_unix_ns + static_cast<std::int64_t>(cpu.longest_gap_offset_ns)},
        {"gaps_ns", cpu.gaps.to_json()},
    });
  }
  nlohmann::json environment = nlohmann::json::object();
  for (const auto& line : report.environment) {
    const auto colon = line.find(": ");
    environment[line.substr(0, colon)] = colon == std::string::npos ? "" : line.substr(colon + 2);
  }
  return {
      {"tool", "aether jitter"},
      {"config",
       {{"cpus", config.cpus},
        {"duration_ns", config.duration.count()},
        {"threshold_ns", config.threshold_ns},
        {"fifo_priority", config.fifo_priority ? nlohmann::json(*config.fifo_priority) : nlohmann::json(nullptr)}}},
      {"clock_source", report.clock_source},
      {"tsc_ghz", report.tsc_ghz},
      {"window_start_unix_ns", report.window_start_unix_ns},
      {"window_start", format_unix_ns(report.window_start_unix_ns)},
      {"environment", environment},
      {"warnings", report.warnings},
      {"cpus", cpus},
  };
}

}  // namespace aether
