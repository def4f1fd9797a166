// Writing report files: a path is created with its directories, and a
// failure names the file.
#pragma once

#include <string>

#include "aether/core/result.hpp"

namespace aether::cli {

Result<void> write_text_file(const std::string& path, const std::string& text);

}  // namespace aether::cli
