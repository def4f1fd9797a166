#include "key_templates.hpp"

#include <tss2/tss2_mu.h>

#include <algorithm>
#include <array>

#include "aether/attest/digest.hpp"

namespace aether::attest::detail {

TPM2B_PUBLIC attestation_key_template() {
  TPM2B_PUBLIC key{};
  key.publicArea.type = TPM2_ALG_ECC;
  key.publicArea.nameAlg = TPM2_ALG_SHA256;
  key.publicArea.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |
                                    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                    TPMA_OBJECT_USERWITHAUTH;
  auto& ecc = key.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_NULL;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  return key;
}

TPM2B_PUBLIC endorsement_key_template() {
  // PolicySecret(TPM_RH_ENDORSEMENT) digest (EK Credential Profile 2.0, B.3.3).
  constexpr std::array<std::uint8_t, 32> policy{0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
                                                0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
                                                0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};
  TPM2B_PUBLIC key{};
  key.publicArea.type = TPM2_ALG_ECC;
  key.publicArea.nameAlg = TPM2_ALG_SHA256;
  key.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                                    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  key.publicArea.authPolicy.size = policy.size();
  std::copy(policy.begin(), policy.end(), key.publicArea.authPolicy.buffer);
  auto& ecc = key.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_AES;
  ecc.symmetric.keyBits.aes = 128;
  ecc.symmetric.mode.aes = TPM2_ALG_CFB;
  ecc.scheme.scheme = TPM2_ALG_NULL;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  key.publicArea.unique.ecc.x.size = 32;  // zeros: the template's unique field
  key.publicArea.unique.ecc.y.size = 32;
  return key;
}

std::vector<std::uint8_t> attestation_key_name(const AkPublic& key) {
  if (key.x.size() != 32 || key.y.size() != 32) return {};
  TPM2B_PUBLIC area = attestation_key_template();
  auto& point = area.publicArea.unique.ecc;
  point.x.size = 32;
  point.y.size = 32;
  std::copy(key.x.begin(), key.x.end(), point.x.buffer);
  std::copy(key.y.begin(), key.y.end(), point.y.buffer);
  std::array<std::uint8_t, sizeof(TPMT_PUBLIC)> bytes{};
  std::size_t size = 0;
  if (Tss2_MU_TPMT_PUBLIC_Marshal(&area.publicArea, bytes.data(), bytes.size(), &size) != TSS2_RC_SUCCESS) return {};
  const Sha256 digest = sha256(std::span<const std::uint8_t>(bytes.data(), size));
  std::vector<std::uint8_t> name{static_cast<std::uint8_t>(TPM2_ALG_SHA256 >> 8),
                                 static_cast<std::uint8_t>(TPM2_ALG_SHA256 & 0xff)};
  name.insert(name.end(), digest.begin(), digest.end());
  return name;
}

}  // namespace aether::attest::detail
