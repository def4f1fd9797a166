// The TPM key templates Aether uses, shared by the TPM session (which
// creates the keys) and the verifier (which computes the AK's name from its
// public point). Private to src/attest.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <cstdint>
#include <vector>

#include "aether/attest/quote.hpp"

namespace aether::attest::detail {

// The AK (tpm-attestation.md section 2.4, as tpm2_createak's ECC key):
// restricted signing, ECDSA with SHA-256 on NIST P-256, no symmetric part,
// created inside the TPM and never leaving it (fixedTPM, fixedParent).
TPM2B_PUBLIC attestation_key_template();

// The EK (TCG EK Credential Profile 2.0, template L-2 "ECC NIST P256", as
// tpm2_createek ecc; tpm-attestation.md section 2.3): restricted decryption
// key, admin role by policy only (PolicySecret(TPM_RH_ENDORSEMENT)),
// AES-128-CFB, unique x and y 32 zero bytes each.
TPM2B_PUBLIC endorsement_key_template();

// The AK's TPM name: nameAlg (TPM_ALG_SHA256, big-endian) followed by
// SHA-256 of the marshalled TPMT_PUBLIC, i.e. the template with `key` as its
// unique point (TPM 2.0 Part 1, 16 "Names"). Empty when `key` is not 32+32 bytes.
std::vector<std::uint8_t> attestation_key_name(const AkPublic& key);

}  // namespace aether::attest::detail
