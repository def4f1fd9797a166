// The AK's public point as an OpenSSL 3 EVP_PKEY (private to src/attest).
#pragma once

#include <openssl/evp.h>

#include <memory>

#include "aether/attest/quote.hpp"

namespace aether::attest::detail {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// 04 || X || Y (SEC 1, 2.3.3 uncompressed point) on "prime256v1" through
// OSSL_PARAM_BLD + EVP_PKEY_fromdata; an Error if the point is not on the curve.
Result<Pkey> ec_public_key(const AkPublic& key);

}  // namespace aether::attest::detail
