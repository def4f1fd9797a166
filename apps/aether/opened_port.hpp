// Opening the port a command works on, with a packet pool of its own, and
// saying on stderr what was opened (mode, MAC, link, notes). Used by fwd
// and the feed commands; echo and ping run on the runtime (one_port_runtime.hpp)
// and use describe_opened_port only.
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

// Says on stderr what was opened: "port SPEC: MODE on IF, mac M, link L"
// and the backend's notes.
void describe_opened_port(const std::string& spec, const net::Port& port);

// Checks `spec`, then allocates the pool and opens the port.
Result<OpenedPort> open_port_with_pool(const std::string& spec, std::uint16_t id, std::size_t buffers);

}  // namespace aether::cli
