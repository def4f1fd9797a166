#include "aether/attest/policy.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "try.hpp"

namespace aether::attest {
namespace {

constexpr const char* policy_format = "aether-attest-policy/1";
constexpr std::size_t max_lines_named = 8;  // per measurement; more are counted

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

// "name: differs: now 'a', 'b'; policy 'c'" listing the lines only on one side.
std::string describe_difference(const std::string& name, const std::string& measured, const std::string& expected) {
  const auto now = split_lines(measured);
  const auto before = split_lines(expected);
  const std::multiset<std::string> now_set(now.begin(), now.end());
  const std::multiset<std::string> before_set(before.begin(), before.end());
  std::vector<std::string> added;
  std::vector<std::string> removed;
  for (const auto& line : now) {
    if (!before_set.contains(line)) added.push_back(line);
  }
  for (const auto& line : before) {
    if (!now_set.contains(line)) removed.push_back(line);
  }
  auto quote_lines = [](const std::vector<std::string>& lines) {
    std::string text;
    for (std::size_t i = 0; i < lines.size() && i < max_lines_named; ++i) {
      text += fmt::format("{}'{}'", i == 0 ? "" : ", ", lines[i]);
    }
    if (lines.size() > max_lines_named) text += fmt::format(" and {} more", lines.size() - max_lines_named);
    return text;
  };
  if (added.empty() && removed.empty()) return fmt::format("{}: differs from the policy (line order)", name);
  return fmt::format("{}: differs from the policy: measured {}; policy {}", name,
                     added.empty() ? "nothing else" : quote_lines(added),
                     removed.empty() ? "nothing else" : quote_lines(removed));
}

}  // namespace

Policy policy_from_log(const EventLog& log, const std::optional<AkPublic>& key) {
  Policy policy;
  policy.pcr = log.pcr;
  policy.attestation_key = key;
  for (const Event& event : log.events) policy.measurements[event.name] = event.data;
  return policy;
}

std::vector<std::string> compare_with_policy(const EventLog& log, const Policy& policy) {
  std::vector<std::string> mismatches;
  if (log.pcr != policy.pcr) mismatches.push_back(fmt::format("pcr: log for PCR {}, policy for PCR {}", log.pcr, policy.pcr));
  std::set<std::string> seen;
  for (const Event& event : log.events) {
    if (!seen.insert(event.name).second) {
      mismatches.push_back(fmt::format("{}: measured twice in the log", event.name));
      continue;
    }
    const auto expected = policy.measurements.find(event.name);
    if (expected == policy.measurements.end()) {
      mismatches.push_back(fmt::format("{}: not in the policy (measured '{}')", event.name,
                                       split_lines(event.data).empty() ? "" : split_lines(event.data).front()));
    } else if (expected->second != event.data) {
      mismatches.push_back(describe_difference(event.name, event.data, expected->second));
    }
  }
  for (const auto& [name, data] : policy.measurements) {
    if (!seen.contains(name)) mismatches.push_back(fmt::format("{}: in the policy but not measured", name));
  }
  return mismatches;
}

nlohmann::json policy_to_json(const Policy& policy) {
  nlohmann::json json = {{"format", policy_format}, {"pcr", policy.pcr}, {"measurements", policy.measurements}};
  if (policy.attestation_key) json["attestation_key"] = ak_to_json(*policy.attestation_key);
  return json;
}

Result<Policy> policy_from_json(const nlohmann::json& json) {
  if (!json.is_object() || json.value("format", std::string()) != policy_format) {
    return invalid_argument(fmt::format("not an Aether policy (\"format\" is not \"{}\")", policy_format));
  }
  Policy policy;
  if (!json.contains("pcr") || !json["pcr"].is_number_unsigned()) return invalid_argument("policy: \"pcr\" missing");
  policy.pcr = json["pcr"].get<unsigned>();
  if (!json.contains("measurements") || !json["measurements"].is_object()) {
    return invalid_argument("policy: \"measurements\" must be an object of name: text");
  }
  for (const auto& [name, data] : json["measurements"].items()) {
    if (!data.is_string()) return invalid_argument(fmt::format("policy: measurement '{}' is not a string", name));
    policy.measurements[name] = data.get<std::string>();
  }
  if (json.contains("attestation_key")) {
    auto key = ak_from_json(json["attestation_key"]);
    if (!key) return invalid_argument("policy: " + key.error().message);
    policy.attestation_key = std::move(*key);
  }
  return policy;
}

Result<Policy> read_policy_file(const std::filesystem::path& path) {
  AETHER_TRY(const nlohmann::json json, read_json_file(path, "policy file"));
  auto policy = policy_from_json(json);
  if (!policy) return invalid_argument(fmt::format("policy file {}: {}", path.string(), policy.error().message));
  return policy;
}

}  // namespace aether::attest
