// Opening the port a command works on, with a packet pool of its own, and
// saying on stderr what was opened (mode, MAC, link, notes). Shared by echo,
// fwd and ping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "aether/core/result.hpp"
#include "aether/measure/port_on_veth.hpp"

namespace aether::cli {

// The port goes before its pool (it holds buffers of it).
using OpenedPort = measure::PortWithPool;

Result<OpenedPort> open_port_with_pool(const std::string& spec, std::uint16_t id, std::size_t buffers);

}  // namespace aether::cli
