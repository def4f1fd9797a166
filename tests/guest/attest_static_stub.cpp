// The static guest CLI has no `aether attest` / `aether bench attest`:
// Debian's libtss2 has no static libraries. These commands say so instead.
#include <fmt/format.h>

#include "../../apps/aether/bench_options.hpp"
#include "../../apps/aether/commands.hpp"

namespace aether::cli {
namespace {

void refuse(int& exit_code) {
  fmt::print(stderr, "aether attest: not in this static build (libtss2 is shared-only); use the regular aether\n");
  exit_code = exit_failure;
}

}  // namespace

void register_attest(CLI::App& app, int& exit_code) {
  app.add_subcommand("attest", "Not in this static build (libtss2 is shared-only)")
      ->allow_extras()
      ->callback([&exit_code] { refuse(exit_code); });
}

void register_attest_bench(CLI::App& bench, int& exit_code) {
  bench.add_subcommand("attest", "Not in this static build (libtss2 is shared-only)")
      ->allow_extras()
      ->callback([&exit_code] { refuse(exit_code); });
}

}  // namespace aether::cli
