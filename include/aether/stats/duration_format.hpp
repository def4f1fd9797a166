// Durations for people: "812 ns", "3.40 us", "48.1 ms", three significant digits.
#pragma once

#include <cstdint>
#include <string>

namespace aether {

std::string format_duration_ns(std::uint64_t ns);

}  // namespace aether
