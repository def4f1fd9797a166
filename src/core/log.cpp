#include "aether/core/log.hpp"

namespace aether::log {

Level& threshold() noexcept {
  static Level level = Level::info;
  return level;
}

void write(Level level, std::string_view text) noexcept {
  static constexpr const char* prefix[] = {"debug", "info", "warning", "error", ""};
  // One fprintf per message so that lines from different threads do not interleave.
  std::fprintf(stderr, "aether: %s: %.*s\n", prefix[static_cast<int>(level)], static_cast<int>(text.size()),
               text.data());
}

}  // namespace aether::log
