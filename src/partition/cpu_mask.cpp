// Hexadecimal cpumasks, as /proc/irq/default_smp_affinity and the workqueue
// cpumask show them.
#include "aether/partition/cpu_mask.hpp"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/host_access.hpp"

namespace aether::partition {
namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::vector<unsigned>> parse_cpu_mask(std::string_view text) {
  const std::string_view mask = trim_blanks(text);
  if (mask.empty()) return invalid_argument("empty cpumask");
  std::vector<std::string_view> chunks;  // most significant first, as written
  for (std::size_t begin = 0;;) {
    const std::size_t comma = mask.find(',', begin);
    chunks.push_back(mask.substr(begin, comma == std::string_view::npos ? std::string_view::npos : comma - begin));
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  if (chunks.size() * 32 > max_cpu_id + 1) return invalid_argument(fmt::format("cpumask \"{}\" is too long", mask));
  std::vector<unsigned> cpus;
  for (std::size_t index = 0; index < chunks.size(); ++index) {
    const std::string_view chunk = chunks[chunks.size() - 1 - index];  // chunk `index` holds CPUs 32*index...
    if (chunk.empty() || chunk.size() > 8) {
      return invalid_argument(fmt::format("cpumask \"{}\": chunk \"{}\" is not 1 to 8 hex digits", mask, chunk));
    }
    std::uint32_t value = 0;
    for (char c : chunk) {
      const int digit = hex_digit(c);
      if (digit < 0) return invalid_argument(fmt::format("cpumask \"{}\": '{}' is not a hex digit", mask, c));
      value = (value << 4) | static_cast<std::uint32_t>(digit);
    }
    for (unsigned bit = 0; bit < 32; ++bit) {
      if ((value >> bit) & 1u) cpus.push_back(static_cast<unsigned>(index) * 32 + bit);
    }
  }
  std::sort(cpus.begin(), cpus.end());
  return cpus;
}

std::string format_cpu_mask(std::span<const unsigned> cpus, unsigned cpu_count) {
  unsigned bits = std::max(cpu_count, 1u);
  for (unsigned cpu : cpus) bits = std::max(bits, cpu + 1);
  const unsigned chunks = (bits + 31) / 32;
  std::vector<std::uint32_t> values(chunks, 0);
  for (unsigned cpu : cpus) values[cpu / 32] |= 1u << (cpu % 32);
  // The first (most significant) chunk holds only the digits its bits need.
  const unsigned top_bits = bits - (chunks - 1) * 32;
  const unsigned top_digits = (top_bits + 3) / 4;
  std::string text = fmt::format("{:0{}x}", values[chunks - 1], top_digits);
  for (unsigned chunk = chunks - 1; chunk-- > 0;) text += fmt::format(",{:08x}", values[chunk]);
  return text;
}

}  // namespace aether::partition
