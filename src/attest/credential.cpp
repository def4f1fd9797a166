#include "aether/attest/credential.hpp"

#include <openssl/crypto.h>

#include "aether/attest/watch.hpp"
#include "key_templates.hpp"
#include "try.hpp"

namespace aether::attest {

Result<AkChallenge> challenge_attestation_key(TpmSession& verifier_tpm, const EkPublic& ek, const AkPublic& ak) {
  const std::vector<std::uint8_t> name = detail::attestation_key_name(ak);
  if (name.empty()) {
    return invalid_argument(fmt::format("attestation key: a P-256 point of 32+32 bytes expected, got {}+{}",
                                        ak.x.size(), ak.y.size()));
  }
  AETHER_TRY(std::vector<std::uint8_t> secret, random_nonce());  // 32 random bytes
  AETHER_TRY(CredentialChallenge challenge, verifier_tpm.make_credential(ek, name, secret));
  return AkChallenge{std::move(challenge), std::move(secret)};
}

Result<void> check_activation(const AkChallenge& challenge, std::span<const std::uint8_t> answer) {
  // Constant time: the comparison must not tell an attacker how much was right.
  if (answer.size() == challenge.secret.size() &&
      CRYPTO_memcmp(answer.data(), challenge.secret.data(), answer.size()) == 0) {
    return {};
  }
  return invalid_argument("attestation key: not bound to the endorsement key: the TPM's answer to the credential "
                          "challenge is not the secret");
}

}  // namespace aether::attest
