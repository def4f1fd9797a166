// TpmSession: one connection to a TPM 2.0 through ESAPI (libtss2-esys) with
// the attestation key loaded. RAII over every TPM resource (STYLE.md 6):
// the AK is flushed (Esys_FlushContext) in the destructor, before
// Esys_Finalize and the TCTI's release, on every path including errors.
//
// Why reclaiming: a TPM without a resource manager (swtpm, or /dev/tpm0
// without tpmrm) keeps a transient object loaded until someone flushes it;
// Esys_Finalize does not, and a process killed with SIGKILL cannot. swtpm
// holds 3 such objects, so three killed runs would make every later one fail
// with TPM_RC_OBJECT_MEMORY (0x902). So on open, unless told not to, the
// session flushes every transient object and every loaded session it finds
// (TPM2_GetCapability(TPM_CAP_HANDLES) + TPM2_FlushContext): that assumes
// the TPM (or the resource-manager view of it) is Aether's alone. With a
// TPM shared by other programs, pass reclaim = false and use /dev/tpmrm0,
// whose resource manager flushes a client's objects when it goes away.
//
// The AK is a primary key of the endorsement hierarchy (TPM2_CreatePrimary
// with an ECDSA P-256 restricted signing template): the same TPM derives the
// same key from its endorsement seed on every run, so a verifier can enrol
// it once without any key file; the quote's clockInfo is not obfuscated for
// keys of that hierarchy. Control path only; not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aether/attest/digest.hpp"
#include "aether/attest/quote.hpp"
#include "aether/core/result.hpp"

namespace aether::attest {

struct TpmOptions {
  // TCTI configuration for Tss2_TctiLdr_Initialize, e.g.
  // "swtpm:path=/run/swtpm.sock", "swtpm:host=127.0.0.1,port=2321", "device:/dev/tpmrm0".
  std::string tcti = "device:/dev/tpmrm0";
  bool reclaim = true;  // flush transient objects and sessions left behind (see above)
  // Tests: SIGKILL this process right after the AK is loaded (a kill -9 mid-quote).
  bool kill_after_key_loaded = false;
};

struct QuoteOutput {
  std::vector<std::uint8_t> quoted;  // marshalled TPMS_ATTEST
  std::vector<std::uint8_t> signature_r;
  std::vector<std::uint8_t> signature_s;
};

// The endorsement key's public point (ECC P-256 EK, TCG EK Credential
// Profile template, see endorsement_key()).
struct EkPublic {
  std::vector<std::uint8_t> x;
  std::vector<std::uint8_t> y;
  bool operator==(const EkPublic&) const = default;
};

// TPM2_MakeCredential's output, marshalled (TPM2B_ID_OBJECT and
// TPM2B_ENCRYPTED_SECRET): what a verifier sends the attesting TPM.
struct CredentialChallenge {
  std::vector<std::uint8_t> credential_blob;
  std::vector<std::uint8_t> secret;
};

struct TpmHandleCounts {
  unsigned transient_objects = 0;
  unsigned loaded_sessions = 0;
};

class TpmSession {
 public:
  // Connects, starts the TPM if needed, reclaims (see above), loads the AK.
  // Errors name the TCTI and the TPM response code, e.g. "no TPM reachable
  // at 'swtpm:path=/x' (...)" or "TPM out of object memory (0x902) ...".
  static Result<TpmSession> open(const TpmOptions& options);

  TpmSession(TpmSession&&) noexcept;
  TpmSession& operator=(TpmSession&&) noexcept;
  ~TpmSession();

  // How many transient objects and sessions open() flushed.
  [[nodiscard]] TpmHandleCounts reclaimed() const noexcept;
  [[nodiscard]] const AkPublic& attestation_key() const noexcept;

  // TPM2_PCR_Reset (locality 0 may reset PCRs 16 and 23 only).
  Result<void> reset_pcr(unsigned pcr);
  // TPM2_PCR_Extend of the SHA-256 bank.
  Result<void> extend_pcr(unsigned pcr, const Sha256& digest);
  Result<Sha256> read_pcr(unsigned pcr);
  // TPM2_Quote over the SHA-256 bank of `pcr` with `nonce` as qualifying data
  // (at most 64 bytes), signed ECDSA/SHA-256 by the AK.
  Result<QuoteOutput> quote(unsigned pcr, std::span<const std::uint8_t> nonce);
  // TPM2_GetCapability(TPM_CAP_HANDLES): what is loaded right now.
  Result<TpmHandleCounts> handle_counts();

  // --- binding the AK to the EK (credential activation; credential.hpp) ---
  // The EK: TPM2_CreatePrimary in the endorsement hierarchy with the TCG EK
  // Credential Profile's ECC template (as tpm2_createek ecc), its public
  // point read and the key flushed again. A hardware TPM's EK certificate
  // (NV 0x01c0000a) certifies this point; swtpm has none unless
  // swtpm_setup --create-ek-cert made one.
  Result<EkPublic> endorsement_key();
  // Verifier side, on any TPM (only public keys are used): TPM2_LoadExternal
  // of the EK public, TPM2_MakeCredential of `secret` (at most 64 bytes) for
  // the object named `ak_name` (attestation_key_name()), the EK flushed.
  Result<CredentialChallenge> make_credential(const EkPublic& ek, std::span<const std::uint8_t> ak_name,
                                              std::span<const std::uint8_t> secret);
  // Attester side: TPM2_ActivateCredential with this session's AK and the
  // EK (authorised by a policy session with PolicySecret(TPM_RH_ENDORSEMENT),
  // the EK's policy). The TPM gives the secret back only when the challenge
  // was made for this EK and an object of exactly this AK's name that is
  // loaded in the same TPM. EK and session are flushed on every path.
  Result<std::vector<std::uint8_t>> activate_credential(const CredentialChallenge& challenge);

 private:
  struct State;
  explicit TpmSession(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace aether::attest
