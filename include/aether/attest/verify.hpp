// The verifier: is this quote bundle a fresh, genuine quote of a log that
// matches the policy? Every check runs and every failure is reported, each
// starting with the name of what failed:
//   "quote: ..."            the signed data is not a TPM2_Quote (magic, type, selection)
//   "signature: ..."        ECDSA P-256/SHA-256 over TPMS_ATTEST does not verify with the bundle's AK
//   "attestation key: ..."  the bundle's AK is not the policy's (wrong AK)
//   "nonce: ..."            the quote answers another challenge (stale nonce, replayed quote)
//   "log: ..."              an event's content does not hash to its digest (edited log)
//   "pcr: ..."              the log does not replay to the quoted PCR digest (edited log,
//                           PCR extended outside Aether)
//   "<measurement>: ..."    a measurement differs from the policy (policy.hpp)
// Signature and nonce are checked against the bytes the TPM signed, never
// against fields of the file that sit outside the signature.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aether/attest/policy.hpp"
#include "aether/attest/quote.hpp"
#include "aether/core/result.hpp"

namespace aether::attest {

struct VerifyReport {
  std::vector<std::string> failures;  // empty: accepted
  [[nodiscard]] bool accepted() const noexcept { return failures.empty(); }
};

// `expected_nonce` is the challenge the verifier issued for this quote.
[[nodiscard]] VerifyReport verify_bundle(const QuoteBundle& bundle, std::span<const std::uint8_t> expected_nonce,
                                         const Policy& policy);

}  // namespace aether::attest
