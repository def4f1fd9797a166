// The quote bundle file and its tpm2-tools views.
#include "aether/attest/quote.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>

#include <fstream>

#include "aether/core/text_file.hpp"
#include "ec_key.hpp"
#include "try.hpp"

namespace aether::attest {
namespace {

constexpr const char* bundle_format = "aether-attest-quote/1";
// TPM 2.0 Part 2, table 9 (TPM_ALG_ID): ECDSA 0x0018, SHA256 0x000B.
constexpr std::uint16_t alg_ecdsa = 0x0018;
constexpr std::uint16_t alg_sha256 = 0x000b;

Result<std::vector<std::uint8_t>> hex_field(const nlohmann::json& json, const char* key, std::string_view what) {
  if (!json.is_object() || !json.contains(key) || !json[key].is_string()) {
    return invalid_argument(fmt::format("{}: \"{}\" missing or not a hex string", what, key));
  }
  return from_hex(json[key].get<std::string>(), fmt::format("{} \"{}\"", what, key));
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));  // TPM structures are big-endian
  out.push_back(static_cast<std::uint8_t>(value));
}

}  // namespace

nlohmann::json ak_to_json(const AkPublic& key) { return {{"x", to_hex(key.x)}, {"y", to_hex(key.y)}}; }

Result<AkPublic> ak_from_json(const nlohmann::json& json) {
  AETHER_TRY(auto x, hex_field(json, "x", "attestation_key"));
  AETHER_TRY(auto y, hex_field(json, "y", "attestation_key"));
  return AkPublic{std::move(x), std::move(y)};
}

nlohmann::json bundle_to_json(const QuoteBundle& bundle) {
  return {{"format", bundle_format},
          {"nonce", to_hex(bundle.nonce)},
          {"pcr", bundle.log.pcr},
          {"quoted", to_hex(bundle.quoted)},
          {"signature", {{"r", to_hex(bundle.signature_r)}, {"s", to_hex(bundle.signature_s)}}},
          {"attestation_key", ak_to_json(bundle.attestation_key)},
          {"log", log_to_json(bundle.log)}};
}

Result<QuoteBundle> bundle_from_json(const nlohmann::json& json) {
  if (!json.is_object() || json.value("format", std::string()) != bundle_format) {
    return invalid_argument(fmt::format("not an Aether quote (\"format\" is not \"{}\")", bundle_format));
  }
  QuoteBundle bundle;
  AETHER_TRY(bundle.nonce, hex_field(json, "nonce", "quote"));
  AETHER_TRY(bundle.quoted, hex_field(json, "quoted", "quote"));
  if (!json.contains("signature")) return invalid_argument("quote: \"signature\" missing");
  AETHER_TRY(bundle.signature_r, hex_field(json["signature"], "r", "quote signature"));
  AETHER_TRY(bundle.signature_s, hex_field(json["signature"], "s", "quote signature"));
  if (!json.contains("attestation_key")) return invalid_argument("quote: \"attestation_key\" missing");
  AETHER_TRY(bundle.attestation_key, ak_from_json(json["attestation_key"]));
  if (!json.contains("log")) return invalid_argument("quote: \"log\" missing");
  AETHER_TRY(bundle.log, log_from_json(json["log"]));
  if (json.contains("pcr") && json["pcr"].is_number_unsigned() && bundle.log.events.empty()) {
    bundle.log.pcr = json["pcr"].get<unsigned>();
  }
  return bundle;
}

Result<nlohmann::json> read_json_file(const std::filesystem::path& path, std::string_view what) {
  auto text = aether::detail::read_text_file(path);
  if (!text) return Error{text.error().code, fmt::format("{}: {}", what, text.error().message)};
  auto json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded()) return invalid_argument(fmt::format("{} {}: not valid JSON", what, path.string()));
  return json;
}

Result<QuoteBundle> read_bundle_file(const std::filesystem::path& path) {
  AETHER_TRY(const nlohmann::json json, read_json_file(path, "quote file"));
  auto bundle = bundle_from_json(json);
  if (!bundle) return invalid_argument(fmt::format("quote file {}: {}", path.string(), bundle.error().message));
  return bundle;
}

Result<void> write_json_file(const std::filesystem::path& path, const nlohmann::json& json) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream file(temporary, std::ios::trunc);
    if (!file) return errno_error(fmt::format("cannot create {}", temporary.string()));
    file << json.dump(2) << '\n';
    if (!file.flush()) return errno_error(fmt::format("cannot write {}", temporary.string()));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) return Error{error, fmt::format("cannot rename {} to {}", temporary.string(), path.string())};
  return {};
}

Result<std::string> ak_public_pem(const AkPublic& key) {
  AETHER_TRY(auto pkey, detail::ec_public_key(key));
  std::unique_ptr<BIO, decltype(&BIO_free)> memory(BIO_new(BIO_s_mem()), &BIO_free);
  if (!memory || PEM_write_bio_PUBKEY(memory.get(), pkey.get()) != 1) {
    return invalid_argument("attestation key: cannot write PEM");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(memory.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::vector<std::uint8_t> tpmt_signature_bytes(const QuoteBundle& bundle) {
  // TPMT_SIGNATURE (Part 2, 11.3.4): sigAlg, then TPMS_SIGNATURE_ECDSA: hash,
  // signatureR and signatureS as TPM2B_ECC_PARAMETER (u16 size + bytes).
  std::vector<std::uint8_t> bytes;
  put_u16(bytes, alg_ecdsa);
  put_u16(bytes, alg_sha256);
  for (const auto* part : {&bundle.signature_r, &bundle.signature_s}) {
    put_u16(bytes, static_cast<std::uint16_t>(part->size()));
    bytes.insert(bytes.end(), part->begin(), part->end());
  }
  return bytes;
}

}  // namespace aether::attest
