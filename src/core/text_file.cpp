#include "aether/core/text_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include <fmt/format.h>

namespace aether::detail {

Result<std::optional<std::string>> read_optional_text_file(const std::filesystem::path& path, std::string_view name) {
  if (name.empty()) name = path.native();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>{};
    return errno_error(fmt::format("cannot open {}", name));
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t count = ::read(fd, buffer, sizeof buffer);
    if (count == 0) break;
    if (count < 0) {
      if (errno == EINTR) continue;
      const int read_errno = errno;
      ::close(fd);
      return errno_error(fmt::format("cannot read {}", name), read_errno);
    }
    text.append(buffer, static_cast<std::size_t>(count));
  }
  ::close(fd);
  return std::optional<std::string>(std::move(text));
}

Result<std::string> read_text_file(const std::filesystem::path& path) {
  auto text = read_optional_text_file(path);
  if (!text) return std::move(text).error();
  if (!*text) return errno_error(fmt::format("cannot read {}", path.native()), ENOENT);
  return std::move(**text);
}

std::string_view trim(std::string_view text) noexcept {
  constexpr std::string_view blanks = " \t\n\r\v\f";
  const auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

Result<int> parse_int_value(const std::filesystem::path& path, std::string_view text) {
  const std::string_view value = trim(text);
  int result = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
  if (value.empty() || error != std::errc{} || end != value.data() + value.size()) {
    return invalid_argument(fmt::format("{}: \"{}\" is not an integer", path.native(), value));
  }
  return result;
}

}  // namespace aether::detail
