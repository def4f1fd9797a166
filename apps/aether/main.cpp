// aether: the command-line front end. Each subcommand lives in its own file.
#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"Aether: deterministic low-latency packet processing on Linux"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
