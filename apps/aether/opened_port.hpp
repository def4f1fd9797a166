// Opening the port a command works on, with a packet pool of its own, and
// saying on stderr what was opened (mode, link, notes). Shared by echo, fwd
// and ping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "aether/core/result.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port.hpp"

namespace aether::cli {

// The port goes before its pool (it holds buffers of it).
struct OpenedPort {
  std::unique_ptr<mem::Mempool> pool;
  std::unique_ptr<net::Port> port;
  OpenedPort() = default;
  OpenedPort(OpenedPort&&) noexcept = default;
  OpenedPort& operator=(OpenedPort&&) = delete;
  ~OpenedPort() { port.reset(); }
};

Result<OpenedPort> open_port_with_pool(const std::string& spec, std::uint16_t id, std::size_t buffers);

}  // namespace aether::cli
