// The prover's side in one call: reset the Aether PCR, extend every event of
// the log into it, quote it with the verifier's nonce.
//
// The reset makes each quote self-contained (the log holds exactly what the
// PCR holds); it is what a resettable PCR allows, and what a local attacker
// with TPM access could do too: docs/attestation.md, "What it proves".
#pragma once

#include <span>

#include "aether/attest/event_log.hpp"
#include "aether/attest/quote.hpp"
#include "aether/attest/tpm_session.hpp"
#include "aether/core/result.hpp"

namespace aether::attest {

Result<QuoteBundle> quote_log(TpmSession& tpm, EventLog log, std::span<const std::uint8_t> nonce);

}  // namespace aether::attest
