// `aether jitter`: per-core OS noise, in the spirit of sysjitter and oslat.
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/clock.hpp"
#include "aether/core/cpu_list.hpp"
#include "aether/core/cpu_topology.hpp"
#include "aether/jitter/jitter_meter.hpp"
#include "commands.hpp"
#include "report_files.hpp"

namespace aether::cli {
namespace {

struct JitterOptions {
  std::string cpus;  // empty: every online CPU
  double duration_seconds = 10.0;
  std::uint64_t threshold_ns = 1000;
  int fifo_priority = 0;  // 0: not set
  std::string json_path;
};

int run_jitter(const JitterOptions& options) {
  JitterConfig config;
  if (options.cpus.empty()) {
    auto host = read_host_cpus();
    if (!host) {
      fmt::print(stderr, "aether jitter: {}\n", host.error().describe());
      return exit_failure;
    }
    config.cpus = host->online;
  } else {
    auto cpus = parse_cpu_list(options.cpus);
    if (!cpus) {
      fmt::print(stderr, "aether jitter: --cpus: {}\n", cpus.error().describe());
      return exit_failure;
    }
    config.cpus = std::move(*cpus);
  }
  config.duration = std::chrono::nanoseconds(static_cast<std::int64_t>(options.duration_seconds * 1e9));
  config.threshold_ns = options.threshold_ns;
  if (options.fifo_priority != 0) config.fifo_priority = options.fifo_priority;
  if (auto valid = validate(config); !valid) {
    fmt::print(stderr, "aether jitter: {}\n", valid.error().describe());
    return exit_failure;
  }

  const Clock clock = Clock::calibrate();
  fmt::print(stderr, "aether jitter: measuring CPUs {} for {:.1f} s...\n", format_cpu_list(config.cpus),
             options.duration_seconds);
  auto report = measure_jitter(config, clock);
  if (!report) {
    fmt::print(stderr, "aether jitter: {}\n", report.error().describe());
    return exit_failure;
  }
  const bool json_to_stdout = options.json_path == "-";
  if (!json_to_stdout) fmt::print("{}", format_jitter_table(*report));
  if (!options.json_path.empty()) {
    const std::string text = jitter_to_json(*report).dump(2) + "\n";
    if (json_to_stdout) {
      fmt::print("{}", text);
    } else {
      if (auto written = write_text_file(options.json_path, text); !written) {
        fmt::print(stderr, "aether jitter: {}\n", written.error().describe());
        return exit_failure;
      }
      fmt::print(stderr, "aether jitter: JSON written to {}\n", options.json_path);
    }
  }
  return exit_ok;
}

}  // namespace

void register_jitter(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<JitterOptions>();
  CLI::App* command = app.add_subcommand(
      "jitter",
      "Measure OS noise per CPU: one pinned thread per CPU spins on the clock and records every gap above the "
      "threshold (interrupts, ticks, other tasks, the hypervisor). All CPUs measure the same window.");
  command->add_option("--cpus", options->cpus, "CPUs to measure, Linux list syntax (e.g. 0-3,6); default: all online");
  command->add_option("--duration", options->duration_seconds, "Seconds to measure")
      ->default_val(10.0)
      ->check(CLI::Range(0.001, 86400.0));
  command->add_option("--threshold", options->threshold_ns, "Count gaps longer than this many ns")
      ->default_val(1000)
      ->check(CLI::Range(static_cast<std::uint64_t>(1), static_cast<std::uint64_t>(1'000'000'000)));
  command->add_option("--fifo", options->fifo_priority, "Run the spinners SCHED_FIFO at this priority (1-99; needs root)")
      ->check(CLI::Range(1, 99));
  command->add_option("--json", options->json_path, "Also write the full report (with histogram buckets) as JSON to FILE; '-' prints only JSON to stdout");
  command->callback([options, &exit_code] { exit_code = run_jitter(*options); });
}

}  // namespace aether::cli
