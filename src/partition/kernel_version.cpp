// Kernel version parsing and the version gates of the isolation features.
#include "aether/partition/kernel_version.hpp"

#include <charconv>

#include <fmt/format.h>

namespace aether::partition {
namespace {

// Reads a decimal number at `text[position]`; advances `position`.
bool read_number(std::string_view text, std::size_t& position, unsigned& number) {
  const char* first = text.data() + position;
  const char* last = text.data() + text.size();
  const auto [end, error] = std::from_chars(first, last, number);
  if (error != std::errc{} || end == first) return false;
  position = static_cast<std::size_t>(end - text.data());
  return true;
}

}  // namespace

std::string KernelVersion::short_text() const { return fmt::format("{}.{}.{}", major, minor, patch); }

Result<KernelVersion> parse_kernel_version(std::string_view release) {
  release = trim_blanks(release);
  KernelVersion version;
  version.release = std::string(release);
  std::size_t position = 0;
  if (!read_number(release, position, version.major) || position >= release.size() || release[position] != '.' ||
      !read_number(release, ++position, version.minor)) {
    return invalid_argument(fmt::format("kernel release \"{}\" does not start with major.minor", release));
  }
  if (position < release.size() && release[position] == '.') {
    ++position;
    if (!read_number(release, position, version.patch)) version.patch = 0;
  }
  return version;
}

Result<KernelVersion> read_kernel_version(const HostAccess& host) {
  constexpr std::string_view path = "/proc/sys/kernel/osrelease";
  auto text = host.read(path);
  if (!text) return std::move(text).error();
  if (!*text) return errno_error(fmt::format("cannot read {}", path), ENOENT);
  auto version = parse_kernel_version(**text);
  if (!version) return invalid_argument(fmt::format("{}: {}", path, version.error().message));
  return version;
}

bool has_isolated_partitions(const KernelVersion& version) noexcept { return version.at_least(6, 1); }
bool has_remote_partitions(const KernelVersion& version) noexcept { return version.at_least(6, 7); }
bool partitions_exclude_workqueues(const KernelVersion& version) noexcept { return version.at_least(6, 8); }
bool has_timer_migration_hierarchy(const KernelVersion& version) noexcept { return version.at_least(6, 9); }
bool partitions_exclude_timer_migration(const KernelVersion& version) noexcept { return version.at_least(6, 19); }

}  // namespace aether::partition
