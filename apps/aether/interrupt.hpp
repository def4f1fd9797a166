// Ctrl-C for long-running commands: the first SIGINT/SIGTERM sets a flag
// that workers poll, so the command prints what it measured and cleans up;
// a second one ends the process at once.
#pragma once

#include <atomic>

namespace aether::cli {

// Installs the handlers (idempotent) and returns the flag they set.
const std::atomic<bool>& install_interrupt_flag();

}  // namespace aether::cli
