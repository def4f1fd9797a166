// `aether ports`: which port kinds this build has, and how to name them.
#include <fmt/format.h>

#include "aether/net/port_registry.hpp"
#include "commands.hpp"

namespace aether::cli {

void register_ports(CLI::App& app, int& exit_code) {
  CLI::App* command = app.add_subcommand("ports", "List the port kinds this build has and the spec syntax of each");
  command->callback([&exit_code] {
    fmt::print("A port is named KIND:TARGET[?KEY=VALUE&...]; the same string works in echo, fwd and bench.\n\n");
    for (const auto& backend : net::describe_backends()) {
      fmt::print("{:<9} {}\n          {}\n          {}\n", backend.kind, backend.available ? "" : "(not in this build)",
                 backend.synopsis, backend.summary);
    }
    exit_code = exit_ok;
  });
}

}  // namespace aether::cli
