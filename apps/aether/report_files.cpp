#include "report_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

namespace aether::cli {

Result<void> write_text_file(const std::string& path, const std::string& text) {
  const std::filesystem::path file(path);
  std::error_code error;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), error);
  if (error) return Error{error, fmt::format("cannot create directory {}", file.parent_path().string())};
  // O_CLOEXEC: a worker forking a helper meanwhile must not inherit it.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error(fmt::format("cannot create {}", path));
  std::string_view rest(text);
  while (!rest.empty()) {
    const ssize_t written = ::write(fd, rest.data(), rest.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) {
      const int saved_errno = errno;
      ::close(fd);
      return errno_error(fmt::format("cannot write {}", path), saved_errno);
    }
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
  if (::close(fd) != 0) return errno_error(fmt::format("cannot write {}", path));
  return {};
}

}  // namespace aether::cli
