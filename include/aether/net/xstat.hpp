// Reading one backend-specific counter (Port::xstats) by name, e.g. the
// tx_foreign_copies a forwarder's report sums over its ports.
#pragma once

#include <cstdint>
#include <string_view>

#include "aether/net/port.hpp"

namespace aether::net {

// The xstat `name` of `port`, 0 where the backend has none (a counter it
// does not keep is a count of zero). Control path: Port::xstats allocates.
[[nodiscard]] std::uint64_t xstat_or_zero(const Port& port, std::string_view name);

}  // namespace aether::net
