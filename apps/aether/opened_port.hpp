// Opening the port a command works on, with a packet pool of its own, and
// saying on stderr what was opened (mode, MAC, link, notes). Shared by echo,
// fwd and ping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "aether/core/result.hpp"
#include "aether/measure/port_on_veth.hpp"

namespace aether::cli {

// The port goes before its pool (it holds buffers of it).
using OpenedPort = measure::PortWithPool;

// Checks every spec the user typed (net::check_port_spec) before anything
// is allocated or opened; the Error names the first bad one.
Result<void> check_port_specs(std::span<const std::string> specs);

// Opens `spec` on a pool the caller owns (one shared by several ports: a
// frame received on one is sent on another without a copy) and says what
// was opened. The pool must outlive the port.
Result<std::unique_ptr<net::Port>> open_port_on_pool(const std::string& spec, std::uint16_t id, mem::Mempool& pool);

// Checks `spec`, then allocates the pool and opens the port.
Result<OpenedPort> open_port_with_pool(const std::string& spec, std::uint16_t id, std::size_t buffers);

}  // namespace aether::cli
