// The golden values a verifier holds: the attestation key it enrolled and,
// for every measurement, the canonical text a trusted host produced.
//
// File format (JSON, docs/attestation.md):
//   {"format": "aether-attest-policy/1", "pcr": 23,
//    "attestation_key": {"x": HEX, "y": HEX},          // P-256 point, optional
//    "measurements": {"partition.cmdline": "...", ...}}
// Holding the text rather than only the digest lets a mismatch be named
// line by line ("partition.irqs: irq 24 -> 2-3, policy: 0-1").
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aether/attest/event_log.hpp"
#include "aether/attest/quote.hpp"
#include "aether/core/result.hpp"

namespace aether::attest {

struct Policy {
  unsigned pcr = aether_pcr;
  std::optional<AkPublic> attestation_key;
  std::map<std::string, std::string> measurements;  // name -> expected data
};

// The policy a trusted host's log implies (`aether attest policy`).
[[nodiscard]] Policy policy_from_log(const EventLog& log, const std::optional<AkPublic>& key);

// Every way `log` differs from `policy`, one line each, naming the
// measurement and the differing lines: missing, unexpected or changed
// measurements. Empty when they agree.
[[nodiscard]] std::vector<std::string> compare_with_policy(const EventLog& log, const Policy& policy);

[[nodiscard]] nlohmann::json policy_to_json(const Policy& policy);
Result<Policy> policy_from_json(const nlohmann::json& json);
// Reads and parses a policy file; Errors name the file.
Result<Policy> read_policy_file(const std::filesystem::path& path);

}  // namespace aether::attest
