// The `aether fluid` subcommands beyond watch|workload (cmd_fluid.cpp), one
// file each: record (cmd_fluid_record.cpp), train and replay (cmd_fluid_model.cpp),
// run (cmd_fluid_run.cpp).
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "commands.hpp"

#if defined(AETHER_HAVE_FLUID)
#include "aether/core/result.hpp"
#include "aether/fluid/telemetry.hpp"
#include "aether/fluid/watch.hpp"
#endif

namespace aether::cli {

void register_fluid_record(CLI::App& fluid_command, int& exit_code);
void register_fluid_model(CLI::App& fluid_command, int& exit_code);  // train, replay
void register_fluid_run(CLI::App& fluid_command, int& exit_code);    // run (cmd_fluid_run.cpp)
void register_fluid_bench(CLI::App& bench, int& exit_code);          // bench fluid (cmd_bench_fluid.cpp)

// "aether fluid COMMAND: this build has no fluid module ..." on stderr; exit_failure.
int fluid_missing(std::string_view command);

#if defined(AETHER_HAVE_FLUID)
// The telemetry loaded and a session on `target`. The target is checked
// before BPF is loaded, so a typo is named even without root.
struct OpenedWatch {
  std::unique_ptr<fluid::Telemetry> telemetry;  // the session points into it
  std::optional<fluid::WatchSession> session;
};
Result<OpenedWatch> open_watch(const fluid::WatchTarget& target);
#endif

}  // namespace aether::cli
