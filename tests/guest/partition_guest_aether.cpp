// A statically linked `aether` with only the partition commands, for the
// partition guest tests: the guest's initramfs has no libc, and the full
// CLI links shared libraries (fmt, libxdp, libbpf) that have no static form
// here. Built with fmt in header-only mode; same command-line code as the
// real `aether` (apps/aether/cmd_partition.cpp).
#include <CLI/CLI.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"aether (partition commands only, for guest tests)"};
  app.require_subcommand(1);
  int exit_code = aether::cli::exit_ok;
  aether::cli::register_partition(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
