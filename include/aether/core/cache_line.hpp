// The cache line: the unit two cores fight over when they write to it.
#pragma once

#include <cstddef>

namespace aether {

// x86-64 cache line size (Intel 64 and IA-32 Architectures Optimization
// Reference Manual, "Cache hierarchy"). std::hardware_destructive_interference_size
// is not used: g++ warns that its value may differ between compilation units
// (-Winterference-size), which is exactly what a shared layout must avoid.
// Data written by one worker and anything another worker touches never
// share a line: per-worker hot objects are alignas(cache_line_size)
// (dataplane::Poller, dataplane::Worker's counters, net::Queue).
inline constexpr std::size_t cache_line_size = 64;

}  // namespace aether
