#include "ec_key.hpp"

#include <openssl/core_names.h>
#include <openssl/param_build.h>

namespace aether::attest::detail {
namespace {

struct ParamBuildFree {
  void operator()(OSSL_PARAM_BLD* build) const noexcept { OSSL_PARAM_BLD_free(build); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const noexcept { OSSL_PARAM_free(params); }
};
struct PkeyContextFree {
  void operator()(EVP_PKEY_CTX* context) const noexcept { EVP_PKEY_CTX_free(context); }
};

}  // namespace

Result<Pkey> ec_public_key(const AkPublic& key) {
  if (key.x.size() != 32 || key.y.size() != 32) {
    return invalid_argument(fmt::format("attestation key: coordinates of {} and {} bytes, P-256 has 32",
                                        key.x.size(), key.y.size()));
  }
  std::vector<unsigned char> point{0x04};
  point.insert(point.end(), key.x.begin(), key.x.end());
  point.insert(point.end(), key.y.begin(), key.y.end());
  std::unique_ptr<OSSL_PARAM_BLD, ParamBuildFree> build(OSSL_PARAM_BLD_new());
  char group[] = "prime256v1";
  if (!build || OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return invalid_argument("attestation key: cannot build OpenSSL parameters");
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(build.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyContextFree> context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return invalid_argument("attestation key: not a point on P-256");
  }
  return Pkey(raw);
}

}  // namespace aether::attest::detail
