// File and affinity access for the partition module, through injectable roots.
#include "aether/partition/host_access.hpp"

#include "aether/core/text_file.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

namespace aether::partition {
namespace {

namespace fs = std::filesystem;

// "/sys/fs/cgroup" with prefix "/sys" -> "fs/cgroup"; nullopt if `logical`
// is not `prefix` itself or below it.
std::optional<std::string_view> below(std::string_view logical, std::string_view prefix) {
  if (!logical.starts_with(prefix)) return std::nullopt;
  std::string_view rest = logical.substr(prefix.size());
  if (!rest.empty() && rest.front() != '/') return std::nullopt;
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  return rest;
}

// A path that could leave the file it names: ".." components (which would
// also climb out of a test's fake root) or a NUL (which cuts the path).
bool escapes(std::string_view logical) {
  if (logical.find('\0') != std::string_view::npos) return true;
  for (std::size_t begin = 0; begin <= logical.size();) {
    std::size_t end = logical.find('/', begin);
    if (end == std::string_view::npos) end = logical.size();
    if (logical.substr(begin, end - begin) == "..") return true;
    begin = end + 1;
  }
  return false;
}

Error escaping_path(std::string_view logical) {
  return invalid_argument(fmt::format("refusing to change \"{}\": a \"..\" component or a NUL byte", logical));
}

}  // namespace

fs::path HostRoots::map(std::string_view logical) const {
  if (const auto rest = below(logical, "/sys")) return rest->empty() ? sysfs : sysfs / *rest;
  if (const auto rest = below(logical, "/proc")) return rest->empty() ? proc : proc / *rest;
  return fs::path(logical);
}

HostAccess::HostAccess(HostRoots roots) : roots_(std::move(roots)) {}

Result<std::optional<std::string>> read_whole_file(const fs::path& path, std::string_view name) {
  return detail::read_optional_text_file(path, name);
}

Result<std::optional<std::string>> HostAccess::read(std::string_view logical) const {
  return read_whole_file(map(logical), logical);
}

std::optional<std::string> HostAccess::read_trimmed(std::string_view logical) const {
  auto text = read(logical);
  if (!text || !*text) return std::nullopt;
  return std::string(trim_blanks(**text));
}

std::vector<std::string> HostAccess::list_directory(std::string_view logical) const {
  std::vector<std::string> names;
  std::error_code error;
  fs::directory_iterator entries(map(logical), error);
  if (error) return names;
  for (const auto& entry : entries) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool HostAccess::is_directory(std::string_view logical) const {
  std::error_code error;
  return fs::is_directory(map(logical), error);
}

bool HostAccess::exists(std::string_view logical) const {
  std::error_code error;
  return fs::exists(map(logical), error);
}

Result<void> HostAccess::write(std::string_view logical, std::string_view value) {
  if (escapes(logical)) return escaping_path(logical);
  const fs::path path = map(logical);
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return errno_error(fmt::format("cannot open {} to write \"{}\"", logical, value));
  std::string line(value);
  line += '\n';
  ssize_t written = 0;
  do {
    written = ::write(fd, line.data(), line.size());
  } while (written < 0 && errno == EINTR);
  const int write_errno = errno;
  ::close(fd);
  if (written < 0) return errno_error(fmt::format("cannot write \"{}\" to {}", value, logical), write_errno);
  if (static_cast<std::size_t>(written) != line.size()) {
    return errno_error(fmt::format("short write of \"{}\" to {}", value, logical), EIO);
  }
  return {};
}

Result<bool> HostAccess::make_directory(std::string_view logical) {
  if (escapes(logical)) return escaping_path(logical);
  if (::mkdir(map(logical).c_str(), 0755) == 0) return true;
  if (errno == EEXIST) return false;
  return errno_error(fmt::format("cannot create directory {}", logical));
}

Result<void> HostAccess::remove_directory(std::string_view logical) {
  if (escapes(logical)) return escaping_path(logical);
  if (::rmdir(map(logical).c_str()) == 0 || errno == ENOENT) return {};
  return errno_error(fmt::format("cannot remove directory {}", logical));
}

Result<void> HostAccess::set_task_affinity(pid_t tid, std::span<const unsigned> cpus) {
  // The TIDs of a fake /proc name real tasks of this machine: never touch
  // them (test doubles override this function).
  if (roots_.proc != "/proc") {
    return errno_error(
        fmt::format("not changing the affinity of task {}: /proc is {}, not the kernel's", tid, roots_.proc.native()),
        EPERM);
  }
  // A dynamically sized set: machines with more than CPU_SETSIZE (1024) CPUs
  // exist (CPU_ALLOC(3)).
  const unsigned highest = cpus.empty() ? 0 : *std::max_element(cpus.begin(), cpus.end());
  cpu_set_t* set = CPU_ALLOC(highest + 1);
  if (set == nullptr) return errno_error("CPU_ALLOC", ENOMEM);
  const std::size_t size = CPU_ALLOC_SIZE(highest + 1);
  CPU_ZERO_S(size, set);
  for (unsigned cpu : cpus) CPU_SET_S(cpu, size, set);
  const int result = ::sched_setaffinity(tid, size, set);
  const int saved_errno = errno;
  CPU_FREE(set);
  if (result != 0) return errno_error(fmt::format("sched_setaffinity of task {}", tid), saved_errno);
  return {};
}

std::string_view trim_blanks(std::string_view text) noexcept {
  constexpr std::string_view blanks = " \t\n\r\v\f";
  const auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

}  // namespace aether::partition
