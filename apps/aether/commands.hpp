// Each `aether` subcommand registers itself on the top-level CLI::App.
#pragma once

#include <CLI/CLI.hpp>

namespace aether::cli {

// Exit codes shared by every subcommand.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;    // the command ran and failed (message on stderr)

void register_jitter(CLI::App& app, int& exit_code);
void register_bench(CLI::App& app, int& exit_code);
void register_dataplane(CLI::App& app, int& exit_code);  // echo, fwd
void register_stats(CLI::App& app, int& exit_code);      // stats: live view of a --metrics endpoint
void register_ping(CLI::App& app, int& exit_code);
void register_demo(CLI::App& app, int& exit_code);
void register_ports(CLI::App& app, int& exit_code);
void register_partition(CLI::App& app, int& exit_code);  // partition status|plan|apply|revert, doctor
void register_devices(CLI::App& app, int& exit_code);  // devices, bind, unbind
void register_attest(CLI::App& app, int& exit_code);   // attest quote|verify|policy|watch
void register_feed(CLI::App& app, int& exit_code);     // feed generate
void register_fluid(CLI::App& app, int& exit_code);    // fluid watch|workload
void register_fluid_probe_bench(CLI::App& bench, int& exit_code);  // bench fluid-probe (called by register_bench)

}  // namespace aether::cli
