// Fuzz target: port spec strings (KIND:TARGET?KEY=VALUE&...), what a user
// types on the command line and in config files. Invariants: no crash or
// sanitizer report; an accepted spec's parts come from the text, and every
// typed getter either answers within its range or says why not.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "aether/net/port_spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An exact-size heap copy, so ASan catches a read one byte past the end.
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = aether::net::parse_port_spec(text);
  if (!spec) {
    if (spec.error().message.empty()) std::abort();  // an error always says what is wrong
    return 0;
  }
  if (spec->kind.empty() || spec->target.empty()) std::abort();
  if (text.find(spec->kind) == std::string::npos || text.find(spec->target) == std::string::npos) std::abort();
  for (const auto& [key, value] : spec->parameters) {
    if (spec->find(key) != std::string_view(value)) std::abort();  // keys are unique
    auto number = spec->get_unsigned(key, 0, 1, 1000);
    if (number && (*number < 1 || *number > 1000)) std::abort();
    (void)spec->get_bool(key, false);
    (void)spec->get_choice(key, "a", {"a", "b"});
  }
  (void)spec->check_keys({"queue", "mode", "busy_poll"});
  return 0;
}
