// Fluid policies: the goals' defaults and the TOML file (policy.hpp), read
// with toml++ as the runtime's config is (src/runtime/config_toml.cpp), but
// in its header-only mode (toml++'s default; the module does not link the
// package's CMake target, which sets TOML_HEADER_ONLY=0 and links
// libtomlplusplus.so): `aether fluid run` is in the static guest CLI
// (tests/guest/CMakeLists.txt) and Debian ships toml++ only as a shared
// library.
#include "aether/fluid/policy.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <toml++/toml.h>

#include "aether/fluid/trace.hpp"

namespace aether::fluid {
namespace {

using namespace std::chrono_literals;

constexpr std::array<std::string_view, 3> goal_names = {"latency", "throughput", "power"};

// Reads one policy document over a goal's preset, keeping the source for
// "FILE:LINE:COL: " prefixes.
class PolicyReader {
 public:
  explicit PolicyReader(std::string_view source) : source_(source) {}

  Result<Policy> read(const toml::table& document) {
    if (auto ok = known_keys(document, "", {"goal", "interval_ms", "resize", "phases", "idle_states"}); !ok) {
      return std::move(ok).error();
    }
    const toml::node* goal = document.get("goal");
    if (goal == nullptr) return at(document.source(), "goal", "missing; one of latency, throughput, power");
    const auto* goal_text = goal->as_string();
    const auto* found = goal_text == nullptr ? goal_names.end()
                                             : std::find(goal_names.begin(), goal_names.end(), goal_text->get());
    if (found == goal_names.end()) return at(goal->source(), "goal", "expected \"latency\", \"throughput\" or \"power\"");
    policy_ = policy_preset(static_cast<PolicyGoal>(found - goal_names.begin()));
    policy_.source = std::string(source_);
    if (auto ok = milliseconds(document, "", "interval_ms", 10, 60'000, policy_.interval); !ok) return std::move(ok).error();
    if (auto ok = read_resize(document); !ok) return std::move(ok).error();
    if (auto ok = read_phases(document); !ok) return std::move(ok).error();
    if (auto ok = read_idle_states(document); !ok) return std::move(ok).error();
    if (policy_.rules.ceiling_cpus < policy_.rules.floor_cpus) {
      return invalid_argument(fmt::format("{}: resize.ceiling ({}) is below resize.floor ({})", source_,
                                          policy_.rules.ceiling_cpus, policy_.rules.floor_cpus));
    }
    return std::move(policy_);
  }

 private:
  Error at(const toml::source_region& region, std::string_view key, std::string_view message) const {
    return invalid_argument(
        fmt::format("{}:{}:{}: {}: {}", source_, region.begin.line, region.begin.column, key, message));
  }

  static std::string join_key(std::string_view table, std::string_view key) {
    return table.empty() ? std::string(key) : fmt::format("{}.{}", table, key);
  }

  Result<void> known_keys(const toml::table& table, std::string_view name,
                          std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, node] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
        return at(key.source(), join_key(name, key.str()),
                  fmt::format("unknown key; allowed here: {}", fmt::join(allowed, ", ")));
      }
    }
    return {};
  }

  // An integer key in min..max into `out`; absent leaves `out`.
  Result<void> integer(const toml::table& table, std::string_view name, std::string_view key, std::int64_t min,
                       std::int64_t max, unsigned& out) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return {};
    const auto* value = node->as_integer();
    if (value == nullptr) return at(node->source(), join_key(name, key), "expected an integer");
    if (value->get() < min || value->get() > max) {
      return at(node->source(), join_key(name, key),
                fmt::format("{} is out of range; allowed: {}..{}", value->get(), min, max));
    }
    out = static_cast<unsigned>(value->get());
    return {};
  }

  Result<void> milliseconds(const toml::table& table, std::string_view name, std::string_view key, std::int64_t min,
                            std::int64_t max, std::chrono::milliseconds& out) const {
    unsigned value = static_cast<unsigned>(out.count());
    if (auto ok = integer(table, name, key, min, max, value); !ok) return ok;
    out = std::chrono::milliseconds(value);
    return {};
  }

  // [name] as a table with only `allowed` keys; nullptr when absent.
  Result<const toml::table*> section(const toml::table& document, std::string_view name,
                                     std::initializer_list<std::string_view> allowed) const {
    const toml::node* node = document.get(name);
    if (node == nullptr) return static_cast<const toml::table*>(nullptr);
    const toml::table* table = node->as_table();
    if (table == nullptr) return at(node->source(), name, fmt::format("expected a table ([{}])", name));
    if (auto ok = known_keys(*table, name, allowed); !ok) return std::move(ok).error();
    return table;
  }

  Result<void> read_resize(const toml::table& document) {
    auto table = section(document, "resize",
                         {"floor", "ceiling", "grow_after", "shrink_after", "min_dwell_ms", "max_resizes",
                          "rate_window_ms"});
    if (!table) return std::move(table).error();
    if (*table == nullptr) return {};
    ResizeRules& rules = policy_.rules;
    constexpr std::int64_t most_cpus = 4096;
    constexpr std::int64_t hour_ms = 3'600'000;
    if (auto ok = integer(**table, "resize", "floor", 1, most_cpus, rules.floor_cpus); !ok) return ok;
    if (auto ok = integer(**table, "resize", "ceiling", 1, most_cpus, rules.ceiling_cpus); !ok) return ok;
    if (auto ok = integer(**table, "resize", "grow_after", 1, 10'000, rules.grow_after); !ok) return ok;
    if (auto ok = integer(**table, "resize", "shrink_after", 1, 10'000, rules.shrink_after); !ok) return ok;
    if (auto ok = milliseconds(**table, "resize", "min_dwell_ms", 0, hour_ms, rules.min_dwell); !ok) return ok;
    if (auto ok = integer(**table, "resize", "max_resizes", 1, 10'000, rules.max_resizes); !ok) return ok;
    return milliseconds(**table, "resize", "rate_window_ms", 1, hour_ms, rules.rate_window);
  }

  Result<void> read_phases(const toml::table& document) {
    const toml::node* node = document.get("phases");
    if (node == nullptr) return {};
    const toml::table* table = node->as_table();
    if (table == nullptr) return at(node->source(), "phases", "expected a table ([phases])");
    for (const auto& [key, value] : *table) {
      const std::string name = join_key("phases", key.str());
      if (auto label = check_label(key.str()); !label) return at(key.source(), name, label.error().message);
      unsigned cpus = 0;
      if (const auto* text = value.as_string(); text != nullptr && text->get() == "max") {
        cpus = policy_max_cpus;
      } else if (const auto* number = value.as_integer(); number != nullptr && number->get() >= 1) {
        cpus = static_cast<unsigned>(std::min<std::int64_t>(number->get(), 4096));
      } else {
        return at(value.source(), name, "expected a number of CPUs (>= 1) or \"max\"");
      }
      if (key.str() == "default") {
        policy_.default_cpus = cpus;
      } else {
        policy_.phase_cpus[std::string(key.str())] = cpus;
      }
    }
    return {};
  }

  Result<void> read_idle_states(const toml::table& document) {
    auto table = section(document, "idle_states", {"max_exit_latency_us"});
    if (!table) return std::move(table).error();
    if (*table == nullptr) return {};
    const toml::node* node = (*table)->get("max_exit_latency_us");
    if (node == nullptr) return {};
    if (const auto* text = node->as_string(); text != nullptr && text->get() == "any") {
      policy_.idle_max_exit_latency_us.reset();
      return {};
    }
    unsigned limit = 0;
    if (!node->is_integer()) {
      return at(node->source(), "idle_states.max_exit_latency_us", "expected microseconds (0..1000000) or \"any\"");
    }
    if (auto ok = integer(**table, "idle_states", "max_exit_latency_us", 0, 1'000'000, limit); !ok) return ok;
    policy_.idle_max_exit_latency_us = limit;
    return {};
  }

  std::string_view source_;
  Policy policy_;
};

}  // namespace

unsigned Policy::cpus_for(std::string_view phase) const {
  const auto found = phase_cpus.find(phase);
  return found == phase_cpus.end() ? default_cpus : found->second;
}

std::string_view goal_name(PolicyGoal goal) noexcept { return goal_names[static_cast<std::size_t>(goal)]; }

Policy policy_preset(PolicyGoal goal) {
  Policy policy;
  policy.goal = goal;
  switch (goal) {
    case PolicyGoal::latency:  // grow at once, shrink late, never sleep deep
      policy.rules.grow_after = 1;
      policy.rules.shrink_after = 10;
      policy.rules.min_dwell = 500ms;
      policy.phase_cpus = {{"idle", 1}, {"packets", policy_max_cpus}, {"syscall", 2},
                           {"compute", policy_max_cpus}, {"faults", 2}};
      policy.default_cpus = policy_max_cpus;  // an unknown phase: err on the side of CPUs
      policy.idle_max_exit_latency_us = 0;
      break;
    case PolicyGoal::throughput:
      policy.rules.grow_after = 2;
      policy.rules.shrink_after = 5;
      policy.rules.min_dwell = 1000ms;
      policy.phase_cpus = {{"idle", 1}, {"packets", policy_max_cpus}, {"syscall", policy_max_cpus},
                           {"compute", policy_max_cpus}, {"faults", 2}};
      policy.default_cpus = 2;
      policy.idle_max_exit_latency_us = 20;
      break;
    case PolicyGoal::power:  // shrink at once, grow reluctantly, sleep deep
      policy.rules.grow_after = 3;
      policy.rules.shrink_after = 1;
      policy.rules.min_dwell = 2000ms;
      policy.phase_cpus = {{"idle", 1}, {"packets", 2}, {"syscall", 1}, {"compute", 2}, {"faults", 1}};
      policy.default_cpus = 1;
      policy.idle_max_exit_latency_us.reset();
      break;
  }
  return policy;
}

Result<Policy> parse_policy(std::string_view text, std::string_view source) {
  toml::table document;
  try {
    document = toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    return invalid_argument(
        fmt::format("{}:{}:{}: not valid TOML: {}", source, begin.line, begin.column, error.description()));
  }
  return PolicyReader(source).read(document);
}

Result<Policy> load_policy(const std::filesystem::path& path) {
  std::ifstream file(path);
  if (!file) return errno_error(fmt::format("cannot read the policy {}", path.string()));
  std::ostringstream text;
  text << file.rdbuf();
  return parse_policy(text.str(), path.string());
}

}  // namespace aether::fluid
