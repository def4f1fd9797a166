// Binding the AK to the EK: credential activation (TPM 2.0 Part 1, 24
// "Credential Protection"; what Keylime's registrar does). The verifier
// encrypts a random secret to the TPM's endorsement key (EK) for an object
// whose name is the attestation key's (TPM2_MakeCredential, public keys
// only, on any TPM); the attesting TPM decrypts it with TPM2_ActivateCredential
// only when that object, with exactly that name, is loaded in the same TPM
// as the EK. So an AK whose challenge comes back is one that lives in the
// TPM of that EK, and quotes signed by it come from that TPM.
//
// What this does not give without a hardware TPM: the EK itself is trusted
// here on first use; with a hardware TPM the verifier checks the EK against
// the manufacturer's EK certificate first. Control path only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "aether/attest/quote.hpp"
#include "aether/attest/tpm_session.hpp"
#include "aether/core/result.hpp"

namespace aether::attest {

// What the verifier keeps between sending the challenge and the answer.
struct AkChallenge {
  CredentialChallenge challenge;        // sent to the attester
  std::vector<std::uint8_t> secret;     // kept by the verifier
};

// Verifier: a random 32-byte secret made into a credential for `ak` under
// `ek`, on `verifier_tpm` (any TPM: MakeCredential uses public keys only).
[[nodiscard]] Result<AkChallenge> challenge_attestation_key(TpmSession& verifier_tpm, const EkPublic& ek,
                                                            const AkPublic& ak);

// Verifier: the attester's answer. Error "attestation key: not bound to the
// endorsement key: ..." when it is not the secret.
[[nodiscard]] Result<void> check_activation(const AkChallenge& challenge, std::span<const std::uint8_t> answer);

}  // namespace aether::attest
