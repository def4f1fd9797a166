// Watch: re-measure, re-quote and verify against the policy, again and
// again (`aether attest watch`, `aether bench attest`). Each round is a full
// fresh quote with a new random nonce, so drift is reported within one
// interval plus one round's cost.
//
// The binary is hashed once, at construction: the running executable cannot
// change under the process (writing it fails with ETXTBSY) and hashing tens
// of megabytes each round would dominate the round. Control path only.
#pragma once

#include <cstdint>
#include <vector>

#include "aether/attest/measurements.hpp"
#include "aether/attest/policy.hpp"
#include "aether/attest/tpm_session.hpp"
#include "aether/attest/verify.hpp"
#include "aether/core/result.hpp"

namespace aether::attest {

// 32 bytes from getrandom(2): a fresh challenge.
Result<std::vector<std::uint8_t>> random_nonce();

class Watcher {
 public:
  // Hashes the binary once (see above); the Error names it.
  static Result<Watcher> create(TpmSession& tpm, MeasureOptions options, Policy policy);

  // One round: measure, quote with a fresh nonce, verify. An Error means the
  // round could not run (TPM gone, a device vanished mid-measurement), not drift.
  Result<VerifyReport> check_once();

 private:
  Watcher(TpmSession& tpm, MeasureOptions options, Policy policy)
      : tpm_(&tpm), options_(std::move(options)), policy_(std::move(policy)) {}
  TpmSession* tpm_;
  MeasureOptions options_;
  Policy policy_;
};

}  // namespace aether::attest
