// Reading the small text files of sysfs and procfs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "aether/core/result.hpp"

namespace aether::detail {

// The whole file; std::nullopt if it does not exist (ENOENT/ENOTDIR), an Error
// naming the file for any other failure. sysfs attributes report a size of
// 4096 whatever they hold, so the file is read until EOF, not by its size.
// `name` is what errors call the file (default: its path), e.g. the logical
// path when `path` lies under a test's fake root.
Result<std::optional<std::string>> read_optional_text_file(const std::filesystem::path& path,
                                                           std::string_view name = {});

// As above, but a missing file is an Error too.
Result<std::string> read_text_file(const std::filesystem::path& path);

// `text` without leading and trailing whitespace (sysfs values end in "\n").
std::string_view trim(std::string_view text) noexcept;

// A whole decimal integer (after trim) read from `path`; the Error quotes the
// file and the value: `/sys/.../core_id: "x1" is not an integer`.
Result<int> parse_int_value(const std::filesystem::path& path, std::string_view text);

}  // namespace aether::detail
