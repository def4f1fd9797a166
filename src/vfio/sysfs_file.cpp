#include "sysfs_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "aether/vfio/unique_fd.hpp"

namespace aether::vfio::detail {

Result<std::string> read_text_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(fmt::format("cannot open {}", path));
  std::string text;
  std::array<char, 4096> buffer{};
  for (;;) {
    const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno_error(fmt::format("cannot read {}", path));
    }
    if (got == 0) break;
    text.append(buffer.data(), static_cast<std::size_t>(got));
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Result<void> write_text_file(const std::string& path, const std::string& text) {
  // O_TRUNC as the shell's `echo > file` does; sysfs ignores it.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd.valid()) return errno_error(fmt::format("cannot open {} for writing", path));
  const ssize_t written = ::write(fd.get(), text.data(), text.size());
  if (written < 0) return errno_error(fmt::format("cannot write '{}' to {}", text, path));
  if (static_cast<std::size_t>(written) != text.size()) {
    return invalid_argument(fmt::format("short write of '{}' to {}", text, path));
  }
  return {};
}

std::optional<std::string> link_basename(const std::string& path) {
  std::array<char, 4096> target{};
  const ssize_t length = ::readlink(path.c_str(), target.data(), target.size() - 1);
  if (length < 0) return std::nullopt;
  std::string text(target.data(), static_cast<std::size_t>(length));
  const auto slash = text.rfind('/');
  return slash == std::string::npos ? text : text.substr(slash + 1);
}

bool path_exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

}  // namespace aether::vfio::detail
