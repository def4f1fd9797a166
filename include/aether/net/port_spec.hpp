// A port is named by one spec string that the CLI, config files and
// benchmarks share:
//
//   KIND:TARGET[?KEY=VALUE[&KEY=VALUE...]]
//
//   udp:10.9.0.1:9000?busy_poll=50
//   afpacket:veth0
//   afxdp:veth0?queue=0&mode=native&busy_poll=1
//
// The kind ends at the first ':'; the target may itself contain ':' (an
// IP:port, a PCI address). Errors say which part is wrong and what is allowed.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aether/core/result.hpp"

namespace aether::net {

struct PortSpec {
  std::string text;    // the spec as given, for messages
  std::string kind;    // "udp", "afpacket", "afxdp", ...
  std::string target;  // what follows "KIND:", before '?'
  std::vector<std::pair<std::string, std::string>> parameters;  // in the order given

  [[nodiscard]] std::optional<std::string_view> find(std::string_view key) const noexcept;

  // Typed parameter access with defaults and range checks. Errors name the
  // spec, the key, the bad value and what is allowed.
  [[nodiscard]] Result<std::uint64_t> get_unsigned(std::string_view key, std::uint64_t fallback, std::uint64_t min,
                                                   std::uint64_t max) const;
  [[nodiscard]] Result<bool> get_bool(std::string_view key, bool fallback) const;  // 0/1/true/false/yes/no/on/off
  [[nodiscard]] Result<std::string> get_choice(std::string_view key, std::string_view fallback,
                                               std::initializer_list<std::string_view> allowed) const;

  // Refuses any key not in `known`, listing the allowed ones.
  [[nodiscard]] Result<void> check_keys(std::initializer_list<std::string_view> known) const;
};

// Splits a spec into kind, target and parameters: syntax only. Refuses an
// empty kind or target, a parameter without '=', and a key given twice.
// Whether the kind exists is the registry's to say (port_registry.hpp, the
// one list of kinds: check_port_spec, open_port).
[[nodiscard]] Result<PortSpec> parse_port_spec(std::string_view text);

}  // namespace aether::net
