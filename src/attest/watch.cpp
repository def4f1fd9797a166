#include "aether/attest/watch.hpp"

#include <sys/random.h>

#include "aether/attest/attestation.hpp"
#include "try.hpp"

namespace aether::attest {

Result<std::vector<std::uint8_t>> random_nonce() {
  std::vector<std::uint8_t> nonce(32);
  std::size_t filled = 0;
  while (filled < nonce.size()) {
    const ssize_t got = ::getrandom(nonce.data() + filled, nonce.size() - filled, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno_error("getrandom for a nonce");
    filled += static_cast<std::size_t>(got);
  }
  return nonce;
}

Result<Watcher> Watcher::create(TpmSession& tpm, MeasureOptions options, Policy policy) {
  if (!options.binary_digest) {
    AETHER_TRY(options.binary_digest, sha256_file(options.binary, options.binary.string()));
  }
  return Watcher(tpm, std::move(options), std::move(policy));
}

Result<VerifyReport> Watcher::check_once() {
  AETHER_TRY(EventLog log, measure_host(options_));
  AETHER_TRY(const auto nonce, random_nonce());
  AETHER_TRY(const QuoteBundle bundle, quote_log(*tpm_, std::move(log), nonce));
  return verify_bundle(bundle, nonce, policy_);
}

}  // namespace aether::attest
