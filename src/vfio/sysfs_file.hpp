// Small sysfs/procfs file helpers shared by this module's .cpp files
// (private header). Every error names the path.
#pragma once

#include <optional>
#include <string>

#include "aether/core/result.hpp"

namespace aether::vfio::detail {

// Whole file, trailing newline removed.
[[nodiscard]] Result<std::string> read_text_file(const std::string& path);
// Writes `text` in one write(2), as sysfs attributes require.
[[nodiscard]] Result<void> write_text_file(const std::string& path, const std::string& text);
// Last component of a symlink's target ("driver" -> "e1000e"); nullopt when
// the link does not exist.
[[nodiscard]] std::optional<std::string> link_basename(const std::string& path);
[[nodiscard]] bool path_exists(const std::string& path);

}  // namespace aether::vfio::detail
