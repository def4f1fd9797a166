// SHA-256 through OpenSSL's EVP interface (OpenSSL 3: EVP_Digest, EVP_MD_fetch-free default provider).
#include "aether/attest/digest.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <memory>

#include "aether/core/unique_fd.hpp"

namespace aether::attest {
namespace {

struct DigestContextFree {
  void operator()(EVP_MD_CTX* context) const noexcept { EVP_MD_CTX_free(context); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextFree>;

int hex_value(char digit) noexcept {
  if (digit >= '0' && digit <= '9') return digit - '0';
  if (digit >= 'a' && digit <= 'f') return digit - 'a' + 10;
  if (digit >= 'A' && digit <= 'F') return digit - 'A' + 10;
  return -1;
}

}  // namespace

Sha256 sha256(std::span<const std::uint8_t> bytes) {
  Sha256 digest{};
  unsigned int size = 0;
  // EVP_Digest fails only on allocation failure or a missing provider: an
  // invariant of a working OpenSSL, not an input error.
  const int ok = EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr);
  if (ok != 1 || size != sha256_size) std::abort();
  return digest;
}

Sha256 sha256(std::string_view text) {
  return sha256(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

Sha256 sha256_extend(const Sha256& old_value, const Sha256& digest) {
  std::array<std::uint8_t, 2 * sha256_size> joined{};
  std::copy(old_value.begin(), old_value.end(), joined.begin());
  std::copy(digest.begin(), digest.end(), joined.begin() + sha256_size);
  return sha256(std::span<const std::uint8_t>(joined));
}

Result<Sha256> sha256_file(const std::filesystem::path& path, std::string_view name) {
  const std::string shown = name.empty() ? path.string() : std::string(name);
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file.valid()) return errno_error(fmt::format("cannot open {} to hash it", shown));
  DigestContext context(EVP_MD_CTX_new());
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) std::abort();
  std::vector<std::uint8_t> chunk(1 << 20);
  for (;;) {
    const ssize_t got = ::read(file.get(), chunk.data(), chunk.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno_error(fmt::format("cannot read {} to hash it", shown));
    if (got == 0) break;
    EVP_DigestUpdate(context.get(), chunk.data(), static_cast<std::size_t>(got));
  }
  Sha256 digest{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(context.get(), digest.data(), &size);
  return digest;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const std::uint8_t byte : bytes) {
    text.push_back(digits[byte >> 4]);
    text.push_back(digits[byte & 0xf]);
  }
  return text;
}

Result<std::vector<std::uint8_t>> from_hex(std::string_view text, std::string_view what) {
  if (text.size() % 2 != 0) {
    return invalid_argument(fmt::format("{}: '{}' is not hex (odd number of digits)", what, text));
  }
  std::vector<std::uint8_t> bytes;
  bytes.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int high = hex_value(text[i]);
    const int low = hex_value(text[i + 1]);
    if (high < 0 || low < 0) return invalid_argument(fmt::format("{}: '{}' is not hex", what, text));
    bytes.push_back(static_cast<std::uint8_t>(high << 4 | low));
  }
  return bytes;
}

Result<Sha256> sha256_from_hex(std::string_view text, std::string_view what) {
  auto bytes = from_hex(text, what);
  if (!bytes) return std::move(bytes).error();
  if (bytes->size() != sha256_size) {
    return invalid_argument(fmt::format("{}: {} bytes, a SHA-256 digest has 32", what, bytes->size()));
  }
  Sha256 digest{};
  std::copy(bytes->begin(), bytes->end(), digest.begin());
  return digest;
}

}  // namespace aether::attest
