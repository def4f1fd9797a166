// aether: the command-line front end. Each subcommand lives in its own file.
#include <CLI/CLI.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "Aether: deterministic low-latency packet processing on Linux.\n"
      "Run `aether <command> --help` for a command's options."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print help for every command");
  int exit_code = aether::cli::exit_ok;
  aether::cli::register_demo(app, exit_code);
  aether::cli::register_bench(app, exit_code);
  aether::cli::register_dataplane(app, exit_code);
  aether::cli::register_stats(app, exit_code);
  aether::cli::register_ping(app, exit_code);
  aether::cli::register_ports(app, exit_code);
  aether::cli::register_jitter(app, exit_code);
  aether::cli::register_partition(app, exit_code);
  aether::cli::register_devices(app, exit_code);
  aether::cli::register_attest(app, exit_code);
  aether::cli::register_feed(app, exit_code);
  aether::cli::register_fluid(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
