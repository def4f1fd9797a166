// Shared pieces of the memif tests: a throwaway socket directory, opening a
// memif port with its own pool, and waiting for links.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "aether/backends/memif_port.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port_registry.hpp"

namespace aether::test {

// A directory for sockets, removed with everything in it.
class TempDirectory {
 public:
  TempDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "aether-memif-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDirectory() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::string socket(const std::string& name = "memif.sock") const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A memif port and the pool behind it (the pool outlives the port).
struct MemifEnd {
  std::unique_ptr<mem::Mempool> pool;
  std::unique_ptr<net::Port> port;
  [[nodiscard]] backends::MemifPort& memif() const { return dynamic_cast<backends::MemifPort&>(*port); }
  [[nodiscard]] net::Queue& queue(unsigned index = 0) const { return port->queue(index); }
  void close() { port.reset(); }
};

inline Result<MemifEnd> open_memif(const std::string& spec, std::uint16_t port_id, std::size_t buffers = 4096) {
  MemifEnd end;
  auto pool = mem::Mempool::create(net::default_packet_pool_config(buffers, "memif-test-" + std::to_string(port_id)));
  if (!pool) return std::move(pool).error();
  end.pool = std::move(*pool);
  auto port = net::open_port(spec, net::PortOptions{end.pool.get(), port_id});
  if (!port) return std::move(port).error();
  end.port = std::move(*port);
  return end;
}

// Opens again on an existing pool (a restarted port keeps its pool).
inline Result<void> reopen_memif(const std::string& spec, MemifEnd& end, std::uint16_t port_id) {
  end.port.reset();
  auto port = net::open_port(spec, net::PortOptions{end.pool.get(), port_id});
  if (!port) return std::move(port).error();
  end.port = std::move(*port);
  return {};
}

inline constexpr std::chrono::milliseconds kLinkTimeout{5000};

// Polls `condition` until it holds or kLinkTimeout passed: for what another
// thread (the control or notifier thread) does. No timing is asserted.
template <class Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + kLinkTimeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace aether::test
