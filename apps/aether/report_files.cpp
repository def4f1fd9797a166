#include "report_files.hpp"

#include <filesystem>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

namespace aether::cli {

Result<void> write_text_file(const std::string& path, const std::string& text) {
  const std::filesystem::path file(path);
  std::error_code error;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), error);
  if (error) return Error{error, fmt::format("cannot create directory {}", file.parent_path().string())};
  std::ofstream out(file);
  out << text;
  out.close();
  if (!out) return errno_error(fmt::format("cannot write {}", path));
  return {};
}

}  // namespace aether::cli
