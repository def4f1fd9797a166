// A quote bundle: everything a verifier needs, in one JSON file
// (`aether attest quote --out FILE`):
//   {"format": "aether-attest-quote/1",
//    "nonce": HEX,                       // the verifier's challenge (TPM2B_DATA, <= 64 bytes)
//    "pcr": 23,
//    "quoted": HEX,                      // TPMS_ATTEST as the TPM signed it (TPM 2.0 Part 2, 10.12.12)
//    "signature": {"r": HEX, "s": HEX},  // ECDSA P-256 / SHA-256 over `quoted`
//    "attestation_key": {"x": HEX, "y": HEX},
//    "log": [...]}                       // event_log.hpp
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aether/attest/event_log.hpp"
#include "aether/core/result.hpp"

namespace aether::attest {

// The AK's public point on NIST P-256 (TPMS_ECC_POINT, 32-byte coordinates).
struct AkPublic {
  std::vector<std::uint8_t> x;
  std::vector<std::uint8_t> y;
  bool operator==(const AkPublic&) const = default;
};

struct QuoteBundle {
  std::vector<std::uint8_t> nonce;
  std::vector<std::uint8_t> quoted;       // marshalled TPMS_ATTEST
  std::vector<std::uint8_t> signature_r;  // 32 bytes big-endian
  std::vector<std::uint8_t> signature_s;
  AkPublic attestation_key;
  EventLog log;
};

[[nodiscard]] nlohmann::json ak_to_json(const AkPublic& key);
Result<AkPublic> ak_from_json(const nlohmann::json& json);

[[nodiscard]] nlohmann::json bundle_to_json(const QuoteBundle& bundle);
Result<QuoteBundle> bundle_from_json(const nlohmann::json& json);
// Reads a bundle file; Errors name the file.
Result<QuoteBundle> read_bundle_file(const std::filesystem::path& path);
// Reads and parses a JSON file; Errors say "<what> <path>: ...".
Result<nlohmann::json> read_json_file(const std::filesystem::path& path, std::string_view what);
// Writes `json` (2-space indented) to `path`, replacing it atomically
// (temporary file + rename) so a reader never sees half a file.
Result<void> write_json_file(const std::filesystem::path& path, const nlohmann::json& json);

// For tpm2-tools (`tpm2_checkquote -u PEM -m MSG -s SIG`): the AK as a PEM
// SubjectPublicKeyInfo, and the signature as a marshalled TPMT_SIGNATURE.
Result<std::string> ak_public_pem(const AkPublic& key);
[[nodiscard]] std::vector<std::uint8_t> tpmt_signature_bytes(const QuoteBundle& bundle);

}  // namespace aether::attest
