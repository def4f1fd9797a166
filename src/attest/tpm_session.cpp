// TpmSession over ESAPI (tss2_esys.h, libtss2 3.2.1). Sequence and pitfalls:
// /work/shared/specs/tpm-attestation.md sections 2 and 3 (also docs/attestation.md).
#include "aether/attest/tpm_session.hpp"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <csignal>
#include <cstdlib>
#include <cstring>

#include "aether/attest/tpm_device.hpp"
#include "key_templates.hpp"
#include "try.hpp"

namespace aether::attest {
namespace {

// A TPM response code without the TSS layer bits (tss2_common.h: layer in bits 16-23).
constexpr TSS2_RC tpm_layer_code(TSS2_RC rc) noexcept { return (rc & 0xff0000u) == 0 ? rc : 0; }

Error tpm_error(std::string_view what, TSS2_RC rc) {
  std::string hint;
  switch (tpm_layer_code(rc) & ~TPM2_RC_P) {  // 0x902 may carry no parameter bits; be safe
    case TPM2_RC_OBJECT_MEMORY:
      hint = ": the TPM is out of object memory (TPM_RC_OBJECT_MEMORY 0x902), full of transient objects nobody "
             "flushed; without --no-reclaim Aether flushes them at start (a TPM dedicated to Aether), else run "
             "`tpm2_flushcontext -t` or use /dev/tpmrm0";
      break;
    case TPM2_RC_SESSION_MEMORY:
      hint = ": the TPM is out of session memory (TPM_RC_SESSION_MEMORY 0x903); `tpm2_flushcontext -l`";
      break;
    case TPM2_RC_LOCALITY:
      hint = ": not allowed at this locality (TPM_RC_LOCALITY 0x907; only PCRs 16 and 23 reset at locality 0)";
      break;
    default:
      break;
  }
  return Error{std::make_error_code(std::errc::io_error),
               fmt::format("{}: {} (0x{:x}){}", what, Tss2_RC_Decode(rc), rc, hint)};
}

// One PCR of the SHA-256 bank (Part 2, 10.6.2: sizeofSelect 3 covers PCRs 0-23).
TPML_PCR_SELECTION sha256_selection(unsigned pcr) {
  TPML_PCR_SELECTION selection{};
  selection.count = 1;
  selection.pcrSelections[0].hash = TPM2_ALG_SHA256;
  selection.pcrSelections[0].sizeofSelect = 3;
  selection.pcrSelections[0].pcrSelect[pcr / 8] = static_cast<BYTE>(1u << (pcr % 8));
  return selection;
}

std::vector<std::uint8_t> padded_32(const TPM2B_ECC_PARAMETER& parameter) {
  // A TPM may drop leading zero bytes of r or s; the file always holds 32.
  std::vector<std::uint8_t> bytes(32 - std::min<std::size_t>(parameter.size, 32), 0);
  bytes.insert(bytes.end(), parameter.buffer, parameter.buffer + std::min<std::size_t>(parameter.size, 32));
  return bytes;
}

template <class T>
struct EsysFree {
  void operator()(T* pointer) const noexcept { Esys_Free(pointer); }
};
template <class T>
using EsysPointer = std::unique_ptr<T, EsysFree<T>>;

// TPM2_CreatePrimary of an ECC key from `key_template` in the endorsement
// hierarchy: its handle into *handle (ESYS_TR_NONE on failure), its public
// point into *x and *y. `what` names the key in the error.
Result<void> create_endorsement_primary(ESYS_CONTEXT* esys, const TPM2B_PUBLIC& key_template, ESYS_TR* handle,
                                        std::vector<std::uint8_t>* x, std::vector<std::uint8_t>* y,
                                        std::string_view what) {
  const TPM2B_SENSITIVE_CREATE sensitive{};
  const TPM2B_DATA outside_info{};
  const TPML_PCR_SELECTION creation_pcrs{};
  TPM2B_PUBLIC* public_raw = nullptr;
  TPM2B_CREATION_DATA* creation_data = nullptr;
  TPM2B_DIGEST* creation_hash = nullptr;
  TPMT_TK_CREATION* creation_ticket = nullptr;
  const TSS2_RC rc = Esys_CreatePrimary(esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                        &sensitive, &key_template, &outside_info, &creation_pcrs, handle, &public_raw,
                                        &creation_data, &creation_hash, &creation_ticket);
  EsysPointer<TPM2B_PUBLIC> key_public(public_raw);
  Esys_Free(creation_data);
  Esys_Free(creation_hash);
  Esys_Free(creation_ticket);
  if (rc != TSS2_RC_SUCCESS) {
    *handle = ESYS_TR_NONE;
    return tpm_error(fmt::format("TPM2_CreatePrimary of the {}", what), rc);
  }
  const auto& point = key_public->publicArea.unique.ecc;
  x->assign(point.x.buffer, point.x.buffer + point.x.size);
  y->assign(point.y.buffer, point.y.buffer + point.y.size);
  return {};
}

}  // namespace

struct TpmSession::State {
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  ESYS_CONTEXT* esys = nullptr;
  ESYS_TR attestation_key = ESYS_TR_NONE;
  AkPublic key_public;
  TpmHandleCounts reclaimed;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  // Cleanup in the reverse order of acquisition: the AK leaves the TPM
  // (Esys_FlushContext; Esys_Finalize alone would leave it loaded), then
  // ESAPI's bookkeeping, then the TCTI library and its socket.
  ~State() {
    if (attestation_key != ESYS_TR_NONE) Esys_FlushContext(esys, attestation_key);
    if (esys != nullptr) Esys_Finalize(&esys);
    if (tcti != nullptr) Tss2_TctiLdr_Finalize(&tcti);
  }

  Result<std::vector<TPM2_HANDLE>> handles(TPM2_HC first) {
    std::vector<TPM2_HANDLE> found;
    TPMI_YES_NO more = TPM2_YES;
    TPM2_HC next = first;
    while (more == TPM2_YES) {
      TPMS_CAPABILITY_DATA* raw = nullptr;
      const TSS2_RC rc = Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, next,
                                            TPM2_MAX_CAP_HANDLES, &more, &raw);
      EsysPointer<TPMS_CAPABILITY_DATA> data(raw);
      if (rc != TSS2_RC_SUCCESS) return tpm_error("TPM2_GetCapability(handles)", rc);
      const auto& list = data->data.handles;
      // Only handles of the asked-for type (the TPM continues into the next range).
      for (UINT32 i = 0; i < list.count; ++i) {
        if ((list.handle[i] >> 24) == (first >> 24)) found.push_back(list.handle[i]);
      }
      if (list.count == 0 || (list.handle[list.count - 1] >> 24) != (first >> 24)) break;
      next = list.handle[list.count - 1] + 1;
    }
    return found;
  }

  // Flushes every handle of the given type through the SAPI context beneath
  // ESAPI (Esys_FlushContext needs an ESYS_TR, which this process never had).
  Result<unsigned> flush_all(TPM2_HC first) {
    AETHER_TRY(const auto found, handles(first));
    TSS2_SYS_CONTEXT* sys = nullptr;
    if (const TSS2_RC rc = Esys_GetSysContext(esys, &sys); rc != TSS2_RC_SUCCESS) {
      return tpm_error("Esys_GetSysContext", rc);
    }
    for (const TPM2_HANDLE handle : found) {
      if (const TSS2_RC rc = Tss2_Sys_FlushContext(sys, handle); rc != TSS2_RC_SUCCESS) {
        return tpm_error(fmt::format("TPM2_FlushContext(0x{:08x}) of a handle left behind", handle), rc);
      }
    }
    return static_cast<unsigned>(found.size());
  }
};

Result<TpmSession> TpmSession::open(const TpmOptions& options) {
  // libtss2 logs TPM errors to stderr itself; Aether's Error already names
  // them, so its logging is off unless the user set TSS2_LOG.
  ::setenv("TSS2_LOG", "all+NONE", 0);
  AETHER_TRY_VOID(check_tpm_device(options.tcti));
  auto state = std::make_unique<State>();
  if (const TSS2_RC rc = Tss2_TctiLdr_Initialize(options.tcti.c_str(), &state->tcti); rc != TSS2_RC_SUCCESS) {
    state->tcti = nullptr;
    return Error{std::make_error_code(std::errc::connection_refused),
                 fmt::format("no TPM reachable at TCTI '{}' ({}); start swtpm or pass --tcti", options.tcti,
                             Tss2_RC_Decode(rc))};
  }
  if (const TSS2_RC rc = Esys_Initialize(&state->esys, state->tcti, nullptr); rc != TSS2_RC_SUCCESS) {
    state->esys = nullptr;
    return tpm_error(fmt::format("Esys_Initialize on TCTI '{}'", options.tcti), rc);
  }
  // TPM2_Startup(CLEAR); libtss2 3.2.1 maps "already started" (0x100) to success.
  if (const TSS2_RC rc = Esys_Startup(state->esys, TPM2_SU_CLEAR); rc != TSS2_RC_SUCCESS) {
    return tpm_error(fmt::format("TPM2_Startup on TCTI '{}'", options.tcti), rc);
  }
  if (options.reclaim) {
    AETHER_TRY(state->reclaimed.transient_objects, state->flush_all(TPM2_TRANSIENT_FIRST));
    AETHER_TRY(state->reclaimed.loaded_sessions, state->flush_all(TPM2_LOADED_SESSION_FIRST));
  }

  AETHER_TRY_VOID(create_endorsement_primary(state->esys, detail::attestation_key_template(), &state->attestation_key,
                                             &state->key_public.x, &state->key_public.y,
                                             "attestation key (endorsement hierarchy)"));
  if (options.kill_after_key_loaded) std::raise(SIGKILL);
  return TpmSession(std::move(state));
}

TpmSession::TpmSession(std::unique_ptr<State> state) : state_(std::move(state)) {}
TpmSession::TpmSession(TpmSession&&) noexcept = default;
TpmSession& TpmSession::operator=(TpmSession&&) noexcept = default;
TpmSession::~TpmSession() = default;

TpmHandleCounts TpmSession::reclaimed() const noexcept { return state_->reclaimed; }
const AkPublic& TpmSession::attestation_key() const noexcept { return state_->key_public; }

Result<void> TpmSession::reset_pcr(unsigned pcr) {
  const TSS2_RC rc = Esys_PCR_Reset(state_->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
  if (rc != TSS2_RC_SUCCESS) return tpm_error(fmt::format("TPM2_PCR_Reset of PCR {}", pcr), rc);
  return {};
}

Result<void> TpmSession::extend_pcr(unsigned pcr, const Sha256& digest) {
  TPML_DIGEST_VALUES values{};
  values.count = 1;
  values.digests[0].hashAlg = TPM2_ALG_SHA256;
  std::memcpy(values.digests[0].digest.sha256, digest.data(), digest.size());
  const TSS2_RC rc =
      Esys_PCR_Extend(state_->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &values);
  if (rc != TSS2_RC_SUCCESS) return tpm_error(fmt::format("TPM2_PCR_Extend of PCR {}", pcr), rc);
  return {};
}

Result<Sha256> TpmSession::read_pcr(unsigned pcr) {
  const TPML_PCR_SELECTION selection = sha256_selection(pcr);
  UINT32 update_counter = 0;
  TPML_PCR_SELECTION* selection_out = nullptr;
  TPML_DIGEST* values_raw = nullptr;
  const TSS2_RC rc = Esys_PCR_Read(state_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &selection,
                                   &update_counter, &selection_out, &values_raw);
  Esys_Free(selection_out);
  EsysPointer<TPML_DIGEST> values(values_raw);
  if (rc != TSS2_RC_SUCCESS) return tpm_error(fmt::format("TPM2_PCR_Read of PCR {}", pcr), rc);
  if (values->count != 1 || values->digests[0].size != sha256_size) {
    return invalid_argument(fmt::format("TPM2_PCR_Read of PCR {}: the TPM has no SHA-256 bank for it", pcr));
  }
  Sha256 value{};
  std::memcpy(value.data(), values->digests[0].buffer, value.size());
  return value;
}

Result<QuoteOutput> TpmSession::quote(unsigned pcr, std::span<const std::uint8_t> nonce) {
  TPM2B_DATA qualifying{};
  if (nonce.size() > sizeof(qualifying.buffer)) {
    return invalid_argument(fmt::format("nonce of {} bytes: a TPM takes at most {}", nonce.size(),
                                        sizeof(qualifying.buffer)));
  }
  qualifying.size = static_cast<UINT16>(nonce.size());
  std::copy(nonce.begin(), nonce.end(), qualifying.buffer);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  const TPML_PCR_SELECTION selection = sha256_selection(pcr);
  TPM2B_ATTEST* quoted_raw = nullptr;
  TPMT_SIGNATURE* signature_raw = nullptr;
  const TSS2_RC rc = Esys_Quote(state_->esys, state_->attestation_key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                &qualifying, &scheme, &selection, &quoted_raw, &signature_raw);
  EsysPointer<TPM2B_ATTEST> quoted(quoted_raw);
  EsysPointer<TPMT_SIGNATURE> signature(signature_raw);
  if (rc != TSS2_RC_SUCCESS) return tpm_error(fmt::format("TPM2_Quote of PCR {}", pcr), rc);
  QuoteOutput output;
  output.quoted.assign(quoted->attestationData, quoted->attestationData + quoted->size);
  output.signature_r = padded_32(signature->signature.ecdsa.signatureR);
  output.signature_s = padded_32(signature->signature.ecdsa.signatureS);
  return output;
}

Result<TpmHandleCounts> TpmSession::handle_counts() {
  AETHER_TRY(const auto objects, state_->handles(TPM2_TRANSIENT_FIRST));
  AETHER_TRY(const auto sessions, state_->handles(TPM2_LOADED_SESSION_FIRST));
  return TpmHandleCounts{static_cast<unsigned>(objects.size()), static_cast<unsigned>(sessions.size())};
}

namespace {

// An ESYS_TR flushed when it goes out of scope (objects and sessions alike).
class FlushedHandle {
 public:
  explicit FlushedHandle(ESYS_CONTEXT* esys) noexcept : esys_(esys) {}
  ~FlushedHandle() {
    if (handle_ != ESYS_TR_NONE) Esys_FlushContext(esys_, handle_);
  }
  FlushedHandle(const FlushedHandle&) = delete;
  FlushedHandle& operator=(const FlushedHandle&) = delete;
  ESYS_TR* out() noexcept { return &handle_; }
  [[nodiscard]] ESYS_TR get() const noexcept { return handle_; }

 private:
  ESYS_CONTEXT* esys_;
  ESYS_TR handle_ = ESYS_TR_NONE;
};

Result<void> create_endorsement_key(ESYS_CONTEXT* esys, FlushedHandle& ek, EkPublic* ek_public) {
  EkPublic point;
  AETHER_TRY_VOID(create_endorsement_primary(esys, detail::endorsement_key_template(), ek.out(), &point.x, &point.y,
                                             "endorsement key"));
  if (ek_public != nullptr) *ek_public = std::move(point);
  return {};
}

template <class T, TSS2_RC (*marshal)(const T*, std::uint8_t*, std::size_t, std::size_t*)>
std::vector<std::uint8_t> marshalled(const T& value) {
  std::vector<std::uint8_t> bytes(sizeof(T) + 2);
  std::size_t size = 0;
  if (marshal(&value, bytes.data(), bytes.size(), &size) != TSS2_RC_SUCCESS) return {};
  bytes.resize(size);
  return bytes;
}

}  // namespace

Result<EkPublic> TpmSession::endorsement_key() {
  FlushedHandle ek(state_->esys);
  EkPublic key;
  AETHER_TRY_VOID(create_endorsement_key(state_->esys, ek, &key));
  return key;
}

Result<CredentialChallenge> TpmSession::make_credential(const EkPublic& ek, std::span<const std::uint8_t> ak_name,
                                                        std::span<const std::uint8_t> secret) {
  TPM2B_PUBLIC ek_public = detail::endorsement_key_template();
  auto& point = ek_public.publicArea.unique.ecc;
  TPM2B_DIGEST credential{};
  TPM2B_NAME name{};
  if (ek.x.size() != 32 || ek.y.size() != 32 || secret.size() > sizeof(credential.buffer) ||
      ak_name.size() > sizeof(name.name)) {
    return invalid_argument(fmt::format("TPM2_MakeCredential: EK point of {}+{} bytes (32+32), secret of {} bytes "
                                        "(at most {}), name of {} bytes",
                                        ek.x.size(), ek.y.size(), secret.size(), sizeof(credential.buffer),
                                        ak_name.size()));
  }
  std::copy(ek.x.begin(), ek.x.end(), point.x.buffer);
  std::copy(ek.y.begin(), ek.y.end(), point.y.buffer);
  credential.size = static_cast<UINT16>(secret.size());
  std::copy(secret.begin(), secret.end(), credential.buffer);
  name.size = static_cast<UINT16>(ak_name.size());
  std::copy(ak_name.begin(), ak_name.end(), name.name);

  FlushedHandle loaded(state_->esys);
  if (const TSS2_RC rc = Esys_LoadExternal(state_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nullptr,
                                           &ek_public, ESYS_TR_RH_NULL, loaded.out());
      rc != TSS2_RC_SUCCESS) {
    return tpm_error("TPM2_LoadExternal of the endorsement key's public part", rc);
  }
  TPM2B_ID_OBJECT* blob_raw = nullptr;
  TPM2B_ENCRYPTED_SECRET* secret_raw = nullptr;
  const TSS2_RC rc = Esys_MakeCredential(state_->esys, loaded.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                         &credential, &name, &blob_raw, &secret_raw);
  EsysPointer<TPM2B_ID_OBJECT> blob(blob_raw);
  EsysPointer<TPM2B_ENCRYPTED_SECRET> encrypted(secret_raw);
  if (rc != TSS2_RC_SUCCESS) return tpm_error("TPM2_MakeCredential", rc);
  return CredentialChallenge{marshalled<TPM2B_ID_OBJECT, Tss2_MU_TPM2B_ID_OBJECT_Marshal>(*blob),
                             marshalled<TPM2B_ENCRYPTED_SECRET, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal>(*encrypted)};
}

Result<std::vector<std::uint8_t>> TpmSession::activate_credential(const CredentialChallenge& challenge) {
  TPM2B_ID_OBJECT blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
  std::size_t offset = 0;
  if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(challenge.credential_blob.data(), challenge.credential_blob.size(), &offset,
                                        &blob) != TSS2_RC_SUCCESS ||
      offset != challenge.credential_blob.size()) {
    return invalid_argument("credential challenge: the credential blob is not a TPM2B_ID_OBJECT");
  }
  offset = 0;
  if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(challenge.secret.data(), challenge.secret.size(), &offset, &secret) !=
          TSS2_RC_SUCCESS ||
      offset != challenge.secret.size()) {
    return invalid_argument("credential challenge: the secret is not a TPM2B_ENCRYPTED_SECRET");
  }
  FlushedHandle ek(state_->esys);
  AETHER_TRY_VOID(create_endorsement_key(state_->esys, ek, nullptr));
  // The EK's policy is PolicySecret(TPM_RH_ENDORSEMENT): a policy session
  // that proved knowledge of the endorsement hierarchy's (empty) password.
  FlushedHandle session(state_->esys);
  const TPMT_SYM_DEF no_symmetric{TPM2_ALG_NULL, {}, {}};
  if (const TSS2_RC rc = Esys_StartAuthSession(state_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                               ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &no_symmetric,
                                               TPM2_ALG_SHA256, session.out());
      rc != TSS2_RC_SUCCESS) {
    return tpm_error("TPM2_StartAuthSession (policy) for the endorsement key", rc);
  }
  TPM2B_TIMEOUT* timeout = nullptr;
  TPMT_TK_AUTH* ticket = nullptr;
  const TSS2_RC policy_rc = Esys_PolicySecret(state_->esys, ESYS_TR_RH_ENDORSEMENT, session.get(), ESYS_TR_PASSWORD,
                                              ESYS_TR_NONE, ESYS_TR_NONE, nullptr, nullptr, nullptr, 0, &timeout,
                                              &ticket);
  Esys_Free(timeout);
  Esys_Free(ticket);
  if (policy_rc != TSS2_RC_SUCCESS) return tpm_error("TPM2_PolicySecret(TPM_RH_ENDORSEMENT)", policy_rc);
  TPM2B_DIGEST* credential_raw = nullptr;
  const TSS2_RC rc = Esys_ActivateCredential(state_->esys, state_->attestation_key, ek.get(), ESYS_TR_PASSWORD,
                                             session.get(), ESYS_TR_NONE, &blob, &secret, &credential_raw);
  EsysPointer<TPM2B_DIGEST> credential(credential_raw);
  if (rc != TSS2_RC_SUCCESS) return tpm_error("TPM2_ActivateCredential with the attestation key", rc);
  return std::vector<std::uint8_t>(credential->buffer, credential->buffer + credential->size);
}

}  // namespace aether::attest
