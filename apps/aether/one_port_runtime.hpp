// The runtime behind the one-port commands (`aether echo`, `aether ping`):
// their options as a runtime::RuntimeConfig (one port, one worker running
// one poller), the runtime created, and what it did said on stderr.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "aether/core/result.hpp"
#include "aether/runtime/runtime.hpp"
#include "partition_placement.hpp"

namespace aether::cli {

struct OnePortOptions {
  std::string spec;
  std::size_t buffers = 8192;
  int cpu = -1;  // -1: the last allowed CPU (or, with --partition, the first Aether CPU)
  int fifo_priority = 0;  // 0: SCHED_OTHER
  PartitionPlacementOptions partition;
  std::string metrics;  // --metrics HOST:PORT; empty: off
  bool lock_memory = true;
};

// The port is named "port" in the runtime, the worker `worker_name` (its
// thread's name and telemetry label), its one poller `poller_name`. The
// spec is checked first, so that a typo is reported as typed before
// anything is placed or allocated. On stderr, each line prefixed by
// `command`: the partition placement (with --partition), the metrics
// address, and the opened port (mode, MAC, link, notes).
[[nodiscard]] Result<std::unique_ptr<runtime::Runtime>> create_one_port_runtime(const OnePortOptions& options,
                                                                              std::string_view worker_name,
                                                                              std::string_view poller_name,
                                                                              std::string_view command);

}  // namespace aether::cli
