// Pieces every round-trip measurement of `aether bench latency` shares:
// the generator's configuration from the bench's, and driving it on its
// pinned worker to the end. Private to src/measure.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "aether/dataplane/poller.hpp"
#include "aether/measure/latency_bench.hpp"
#include "aether/net/network_namespace.hpp"

namespace aether::measure {

inline constexpr std::uint16_t probe_port = 9000;

// Probes from `source` to `destination` at the bench's rate, count and size.
GeneratorConfig probe_generator_config(const LatencyBenchConfig& config, const net::VethEnd& source,
                                       const net::VethEnd& destination);

// Runs `generator` on a worker pinned to config.generator_cpu until it has
// finished or `stop` turns true, reporting progress once a second; then
// joins it and closes the generator's books.
Result<dataplane::WorkerStats> drive_generator(LatencyGenerator& generator, const LatencyBenchConfig& config,
                                               const std::string& name, const std::atomic<bool>& stop,
                                               const ProgressFunction& progress);

// A thread's CPU time as a share of the wall time since `since`.
double cpu_percent(std::uint64_t cpu_time_ns, std::chrono::steady_clock::time_point since);

}  // namespace aether::measure
