// CPU list parsing and formatting; grammar in aether/core/cpu_list.hpp.
#include "aether/core/cpu_list.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace aether {
namespace {

// A list may repeat itself ("0-65535,0-65535,..." from a script or a
// hostile file): the CPUs go into a bitmap, never into a vector with one
// entry per repetition, so the memory is bounded by max_cpu_id whatever the
// text. The work is bounded too, so that the time is: a contiguous range
// costs one step per 64 CPUs (whole words are set), a "used/group" pattern
// one step per CPU; 256 patterned passes over every possible CPU are far
// beyond any real list.
constexpr unsigned max_parse_passes = 256;
constexpr std::size_t max_parse_steps = max_parse_passes * (std::size_t{max_cpu_id} + 1);

// The CPUs named so far: 64 per word, with room up to the highest.
struct CpuBitmap {
  std::vector<std::uint64_t> words;
  std::size_t steps = 0;  // work done, see max_parse_steps

  void make_room(unsigned last) {
    if (words.size() <= last / 64) words.resize(last / 64 + 1);
  }
  void set(unsigned cpu) { words[cpu / 64] |= std::uint64_t{1} << (cpu % 64); }
  // CPUs first..last; whole words where the range covers them.
  void set_range(unsigned first, unsigned last) {
    while (first <= last && first % 64 != 0) set(first++);
    while (first <= last && last - first >= 63) {
      words[first / 64] = ~std::uint64_t{0};
      first += 64;
    }
    while (first <= last) set(first++);
  }
};

// Whitespace and commas both end a region, and several in a row are allowed,
// as in the kernel's bitmap_find_region() ("1,,5" and "1 5" are valid there).
bool is_separator(char c) noexcept {
  return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

class RegionParser {
 public:
  RegionParser(std::string_view whole_text, std::string_view region, std::optional<unsigned> last_cpu)
      : whole_text_(whole_text), region_(region), rest_(region), last_cpu_(last_cpu) {}

  // Adds the CPUs of the region to `out`.
  Result<void> parse_into(CpuBitmap& out) {
    unsigned start = 0;
    unsigned end = 0;
    if (rest_ == "all" || rest_.starts_with("all:")) {
      if (!last_cpu_) return fail("\"all\" needs the host's CPU count and is not accepted here");
      end = *last_cpu_;
      rest_.remove_prefix(3);
    } else {
      auto first = number("CPU number");
      if (!first) return first.error();
      start = end = *first;
      if (!rest_.empty() && rest_.front() == '-') {
        rest_.remove_prefix(1);
        auto last = number("range end");
        if (!last) return last.error();
        end = *last;
        if (end < start) return fail(fmt::format("range {}-{} is descending", start, end));
      }
    }
    unsigned used = 1;
    unsigned group = 1;
    if (!rest_.empty() && rest_.front() == ':') {
      rest_.remove_prefix(1);
      auto first_number = number("group pattern");
      if (!first_number) return first_number.error();
      if (!rest_.empty() && rest_.front() == '/') {  // kernel form used/group
        rest_.remove_prefix(1);
        auto group_size = number("group size");
        if (!group_size) return group_size.error();
        used = *first_number;
        group = *group_size;
      } else {  // Aether shorthand a-b:stride == a-b:1/stride
        group = *first_number;
      }
      if (group == 0) return fail("group size is 0");
      if (used > group) return fail(fmt::format("uses {} CPUs out of groups of {}", used, group));
    } else {
      used = group = end - start + 1;
    }
    if (!rest_.empty()) return fail(fmt::format("unexpected \"{}\"", rest_));

    // "a-b:0/g" selects nothing, as in the kernel (bitmap_check_region() allows it).
    if (used == 0) return {};
    // Bounded by max_cpu_id, so neither the loop counters nor the bitmap can blow up.
    const std::size_t groups = (std::size_t{end} - start) / group + 1;
    // An upper bound: the last group may be cut by `end`.
    out.steps += groups == 1 ? (std::size_t{end} - start) / 64 + 1 : groups * used;
    if (out.steps > max_parse_steps) {
      return fail(fmt::format("the list repeats its CPUs too often (more work than {} passes over every possible "
                              "CPU); name each CPU once",
                              max_parse_passes));
    }
    out.make_room(end);
    for (unsigned group_start = start; group_start <= end; group_start += group) {
      out.set_range(group_start, std::min(end, group_start + used - 1));
    }
    return {};
  }

 private:
  Error fail(const std::string& why) const {
    return invalid_argument(fmt::format("bad CPU list \"{}\": region \"{}\": {}", whole_text_, region_, why));
  }

  // A decimal number (or "N") at the front of rest_, at most max_cpu_id.
  Result<unsigned> number(std::string_view what) {
    if (!rest_.empty() && rest_.front() == 'N') {
      if (!last_cpu_) return fail("\"N\" (the last CPU) needs the host's CPU count and is not accepted here");
      rest_.remove_prefix(1);
      return *last_cpu_;
    }
    std::size_t digits = 0;
    unsigned long value = 0;
    while (digits < rest_.size() && rest_[digits] >= '0' && rest_[digits] <= '9') {
      value = value * 10 + static_cast<unsigned long>(rest_[digits] - '0');
      if (value > max_cpu_id) return fail(fmt::format("{} is above the largest supported CPU number {}",
                                                      rest_.substr(0, digits + 1), max_cpu_id));
      ++digits;
    }
    if (digits == 0) {
      return fail(rest_.empty() ? fmt::format("{} is missing", what)
                                : fmt::format("{} expected at \"{}\"", what, rest_));
    }
    rest_.remove_prefix(digits);
    return static_cast<unsigned>(value);
  }

  std::string_view whole_text_;
  std::string_view region_;
  std::string_view rest_;
  std::optional<unsigned> last_cpu_;
};

Result<std::vector<unsigned>> parse(std::string_view text, std::optional<unsigned> last_cpu) {
  CpuBitmap bitmap;
  std::size_t position = 0;
  while (position < text.size()) {
    while (position < text.size() && is_separator(text[position])) ++position;
    std::size_t region_end = position;
    while (region_end < text.size() && !is_separator(text[region_end])) ++region_end;
    if (region_end > position) {
      RegionParser region(text, text.substr(position, region_end - position), last_cpu);
      if (auto parsed = region.parse_into(bitmap); !parsed) return std::move(parsed).error();
    }
    position = region_end;
  }
  std::vector<unsigned> cpus;
  for (std::size_t word = 0; word < bitmap.words.size(); ++word) {
    for (std::uint64_t bits = bitmap.words[word]; bits != 0; bits &= bits - 1) {
      cpus.push_back(static_cast<unsigned>(word * 64 + static_cast<unsigned>(std::countr_zero(bits))));
    }
  }
  return cpus;
}

}  // namespace

Result<std::vector<unsigned>> parse_cpu_list(std::string_view text) { return parse(text, std::nullopt); }

Result<std::vector<unsigned>> parse_cpu_list(std::string_view text, unsigned last_cpu) {
  if (last_cpu > max_cpu_id) {
    return invalid_argument(fmt::format("last CPU {} is above the largest supported CPU number {}", last_cpu, max_cpu_id));
  }
  return parse(text, last_cpu);
}

std::string format_cpu_list(std::span<const unsigned> cpus) {
  std::vector<unsigned> sorted(cpus.begin(), cpus.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());

  std::string out;
  for (std::size_t first = 0; first < sorted.size();) {
    std::size_t last = first;
    while (last + 1 < sorted.size() && sorted[last + 1] == sorted[last] + 1) ++last;
    if (!out.empty()) out += ',';
    if (last == first) {
      out += fmt::format("{}", sorted[first]);
    } else {
      // Two adjacent CPUs print as "4-5", like the kernel's bitmap_print_to_pagebuf().
      out += fmt::format("{}-{}", sorted[first], sorted[last]);
    }
    first = last + 1;
  }
  return out;
}

bool cpu_list_contains(std::span<const unsigned> sorted_cpus, unsigned cpu) noexcept {
  return std::binary_search(sorted_cpus.begin(), sorted_cpus.end(), cpu);
}

}  // namespace aether
