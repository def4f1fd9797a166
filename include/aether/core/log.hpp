// Minimal control-path logging to stderr. Never called on the data path.
#pragma once

#include <cstdio>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace aether::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, quiet = 4 };

// Process-wide threshold; messages below it are dropped. Default: info.
Level& threshold() noexcept;

void write(Level level, std::string_view text) noexcept;

template <class... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  if (threshold() <= Level::debug) write(Level::debug, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  if (threshold() <= Level::info) write(Level::info, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  if (threshold() <= Level::warn) write(Level::warn, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  if (threshold() <= Level::error) write(Level::error, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace aether::log
