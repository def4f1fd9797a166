// SHA-256 digests (OpenSSL 3 EVP) and the hex text they travel as in the
// event log, the quote file and the policy. Control path only.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"

namespace aether::attest {

// TPM2_ALG_SHA256's digest size (TPM 2.0 Library Part 2, table 3 / TPMU_HA).
inline constexpr std::size_t sha256_size = 32;
using Sha256 = std::array<std::uint8_t, sha256_size>;

[[nodiscard]] Sha256 sha256(std::span<const std::uint8_t> bytes);
[[nodiscard]] Sha256 sha256(std::string_view text);
// The PCR extend operation: H(old || new) (TPM 2.0 Library Part 1, 17.6.2).
[[nodiscard]] Sha256 sha256_extend(const Sha256& old_value, const Sha256& digest);
// The digest of a whole file, read in chunks (a 20 MB binary does not go to
// memory at once); the Error names `name` (default: the path).
Result<Sha256> sha256_file(const std::filesystem::path& path, std::string_view name = {});

// Lower-case hex, two digits a byte.
[[nodiscard]] std::string to_hex(std::span<const std::uint8_t> bytes);
// Hex (either case, even length) to bytes; the Error quotes `what` and the text.
Result<std::vector<std::uint8_t>> from_hex(std::string_view text, std::string_view what);
// As from_hex, and exactly 32 bytes.
Result<Sha256> sha256_from_hex(std::string_view text, std::string_view what);

}  // namespace aether::attest
