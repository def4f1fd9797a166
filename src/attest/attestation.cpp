#include "aether/attest/attestation.hpp"

#include "try.hpp"

namespace aether::attest {

Result<QuoteBundle> quote_log(TpmSession& tpm, EventLog log, std::span<const std::uint8_t> nonce) {
  AETHER_TRY_VOID(tpm.reset_pcr(log.pcr));
  for (const Event& event : log.events) AETHER_TRY_VOID(tpm.extend_pcr(log.pcr, event.digest));
  AETHER_TRY(QuoteOutput output, tpm.quote(log.pcr, nonce));
  QuoteBundle bundle;
  bundle.nonce.assign(nonce.begin(), nonce.end());
  bundle.quoted = std::move(output.quoted);
  bundle.signature_r = std::move(output.signature_r);
  bundle.signature_s = std::move(output.signature_s);
  bundle.attestation_key = tpm.attestation_key();
  bundle.log = std::move(log);
  return bundle;
}

}  // namespace aether::attest
