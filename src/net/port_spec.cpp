#include "aether/net/port_spec.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace aether::net {

Result<PortSpec> parse_port_spec(std::string_view text) {
  PortSpec spec;
  spec.text = std::string(text);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return invalid_argument(fmt::format(
        "port '{}': expected KIND:TARGET[?KEY=VALUE&...] (`aether ports` lists the kinds)", text));
  }
  spec.kind = std::string(text.substr(0, colon));
  std::string_view rest = text.substr(colon + 1);
  const auto question = rest.find('?');
  spec.target = std::string(rest.substr(0, question));
  if (spec.target.empty()) {
    return invalid_argument(fmt::format("port '{}': the target after '{}:' is empty", text, spec.kind));
  }
  if (question == std::string_view::npos) return spec;
  std::string_view query = rest.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    const auto equals = item.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      return invalid_argument(fmt::format("port '{}': parameter '{}' is not KEY=VALUE", text, item));
    }
    std::string key(item.substr(0, equals));
    if (spec.find(key)) return invalid_argument(fmt::format("port '{}': parameter '{}' given twice", text, key));
    spec.parameters.emplace_back(std::move(key), std::string(item.substr(equals + 1)));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return spec;
}

std::optional<std::string_view> PortSpec::find(std::string_view key) const noexcept {
  for (const auto& [name, value] : parameters) {
    if (name == key) return std::string_view(value);
  }
  return std::nullopt;
}

Result<std::uint64_t> PortSpec::get_unsigned(std::string_view key, std::uint64_t fallback, std::uint64_t min,
                                             std::uint64_t max) const {
  const auto value = find(key);
  if (!value) return fallback;
  std::uint64_t number = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), number);
  if (ec != std::errc() || end != value->data() + value->size() || number < min || number > max) {
    return invalid_argument(
        fmt::format("port '{}': {}={} is not a whole number from {} to {}", text, key, *value, min, max));
  }
  return number;
}

Result<bool> PortSpec::get_bool(std::string_view key, bool fallback) const {
  const auto value = find(key);
  if (!value) return fallback;
  for (std::string_view yes : {"1", "true", "yes", "on"}) {
    if (*value == yes) return true;
  }
  for (std::string_view no : {"0", "false", "no", "off"}) {
    if (*value == no) return false;
  }
  return invalid_argument(fmt::format("port '{}': {}={} is not a boolean (use 1/0, true/false, yes/no, on/off)", text,
                                      key, *value));
}

Result<std::string> PortSpec::get_choice(std::string_view key, std::string_view fallback,
                                         std::initializer_list<std::string_view> allowed) const {
  const auto value = find(key);
  if (!value) return std::string(fallback);
  if (std::find(allowed.begin(), allowed.end(), *value) != allowed.end()) return std::string(*value);
  return invalid_argument(
      fmt::format("port '{}': {}={} is not allowed (choose one of: {})", text, key, *value, fmt::join(allowed, ", ")));
}

Result<void> PortSpec::check_keys(std::initializer_list<std::string_view> known) const {
  for (const auto& [name, value] : parameters) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return invalid_argument(fmt::format("port '{}': unknown parameter '{}' for {} (allowed: {})", text, name, kind,
                                          known.size() == 0 ? std::string("none") : fmt::format("{}", fmt::join(known, ", "))));
    }
  }
  return {};
}

}  // namespace aether::net
