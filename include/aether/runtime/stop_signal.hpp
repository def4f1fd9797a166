// A clean stop on Ctrl-C: the first SIGINT or SIGTERM sets a flag that
// workers and the control loop poll, so the program reports what it did and
// releases its devices; a second one ends the process at once (the default
// action), so a stuck program can still be killed from the terminal.
#pragma once

#include <atomic>

namespace aether::runtime {

// Installs the SIGINT and SIGTERM handlers (idempotent) and returns the
// flag they set. The flag is process-wide and never reset.
const std::atomic<bool>& install_stop_signals();

}  // namespace aether::runtime
