// Two ports of one kind on the two ends of a throwaway veth pair: the
// generator's on end A, the responder's on end B, each with its own pool.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aether/core/result.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/network_namespace.hpp"
#include "aether/net/port.hpp"

namespace aether::measure {

// The port always goes before its pool: it holds buffers and a cache of it.
struct PortWithPool {
  std::unique_ptr<mem::Mempool> pool;
  std::unique_ptr<net::Port> port;

  PortWithPool() = default;
  PortWithPool(PortWithPool&&) noexcept = default;
  PortWithPool& operator=(PortWithPool&& other) noexcept {
    port.reset();
    pool = std::move(other.pool);
    port = std::move(other.port);
    return *this;
  }
  ~PortWithPool() { port.reset(); }
};

// Opens `spec` with the calling thread inside `ns`, with a pool of its own.
Result<PortWithPool> open_port_in_namespace(const net::NetworkNamespace& ns, const std::string& spec,
                                            std::uint16_t port_id, std::size_t buffers = 4096);

// "udp:IP:PORT" for udp, "KIND:IFNAME" for interface backends.
std::string spec_for_veth_end(const std::string& kind, const net::VethEnd& end, std::uint16_t udp_port);

class PortsOnVeth {
 public:
  static Result<PortsOnVeth> create(const std::string& kind, const std::string& generator_query,
                                    const std::string& responder_query, std::uint16_t udp_port);

  [[nodiscard]] const net::VethPair& veth() const noexcept { return *veth_; }
  [[nodiscard]] PortWithPool& generator() noexcept { return generator_; }
  [[nodiscard]] PortWithPool& responder() noexcept { return responder_; }
  [[nodiscard]] const std::string& generator_spec() const noexcept { return generator_spec_; }
  [[nodiscard]] const std::string& responder_spec() const noexcept { return responder_spec_; }

 private:
  PortsOnVeth() = default;
  // Declaration order is destruction order reversed: ports go before the veth pair.
  std::unique_ptr<net::VethPair> veth_;
  PortWithPool generator_;
  PortWithPool responder_;
  std::string generator_spec_;
  std::string responder_spec_;
};

}  // namespace aether::measure
