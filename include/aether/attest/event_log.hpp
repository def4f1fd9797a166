// The measurement event log: what was extended into the Aether PCR, in order.
//
// Each event is one measurement (name + canonical text); its digest is
// SHA-256(text) and is extended into the PCR: PCR = SHA-256(PCR || digest)
// (TPM 2.0 Library Part 1, 17.6.2). The JSON encoding follows the field names
// of the TCG Canonical Event Log's JSON form (recnum, pcr, digests[{hashAlg,
// digest}], content_type, content); the content type "aether_measurement" is
// ours: content = {"name": ..., "data": ...} (docs/attestation.md).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aether/attest/digest.hpp"
#include "aether/core/result.hpp"

namespace aether::attest {

// PCR 23, "Application Support" in the PC Client Platform TPM Profile: free
// for applications and resettable from locality 0 (libtpms
// s_initAttributes), so every quote starts it from zero and a test can reset
// it. What that means for a real deployment: docs/attestation.md.
inline constexpr unsigned aether_pcr = 23;

struct Event {
  std::string name;  // e.g. "partition.irqs", "device.0000:00:03.0"
  std::string data;  // canonical text of the measured state
  Sha256 digest{};   // SHA-256(data) as extended
};

// An event whose digest is SHA-256(data).
[[nodiscard]] Event make_event(std::string name, std::string data);

struct EventLog {
  unsigned pcr = aether_pcr;
  std::vector<Event> events;

  // The PCR value after extending every event into a zeroed PCR.
  [[nodiscard]] Sha256 replay() const;
  // One line per event whose digest is not SHA-256 of its data ("edited
  // log"); empty when the log is self-consistent.
  [[nodiscard]] std::vector<std::string> inconsistent_events() const;
  [[nodiscard]] const Event* find(std::string_view name) const;
};

[[nodiscard]] nlohmann::json log_to_json(const EventLog& log);
// Errors name the record and field that is wrong.
Result<EventLog> log_from_json(const nlohmann::json& json);

}  // namespace aether::attest
