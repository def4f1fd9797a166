// Two ports of one kind on the two ends of a throwaway veth pair: the
// generator's on end A, the responder's on end B, each with its own pool.
// memif needs no veth pair: its two ports meet on an abstract unix socket
// (the generator is a zero-copy client, the responder the server), and the
// ends only name the addresses frames carry.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aether/core/result.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/network_namespace.hpp"
#include "aether/net/port.hpp"

namespace aether::measure {

struct BenchBackend;  // latency_bench.hpp

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

// Opens `spec` in the calling thread's namespace, with a pool of its own.
Result<PortWithPool> open_port_and_pool(const std::string& spec, std::uint16_t port_id, std::size_t buffers = 4096);

// Opens `spec` with the calling thread inside `ns`, with a pool of its own.
Result<PortWithPool> open_port_in_namespace(const net::NetworkNamespace& ns, const std::string& spec,
                                            std::uint16_t port_id, std::size_t buffers = 4096);

// "udp:IP:PORT" for udp, "KIND:IFNAME" for interface backends.
std::string spec_for_veth_end(const std::string& kind, const net::VethEnd& end, std::uint16_t udp_port);

class PortsOnVeth {
 public:
  static Result<PortsOnVeth> create(const std::string& kind, const std::string& generator_query,
                                    const std::string& responder_query, std::uint16_t udp_port);
  // Two ports the user connected (two NICs on one wire, two ends of a veth,
  // vfio:BDF ports): opened as given in the calling thread's namespace, no
  // veth pair. The ends carry each port's MAC (frames to B are addressed to
  // its MAC) and the placeholder IPs 10.77.0.1 and .2. Waits up to 5 s for
  // both links; a link still down then is an error naming the port.
  static Result<PortsOnVeth> open_given(const std::string& generator_spec, const std::string& responder_spec);
  // The ports of `backend`: open_given for given ports, create otherwise.
  static Result<PortsOnVeth> open_for(const BenchBackend& backend, std::uint16_t udp_port);

  // Precondition: has_veth() (every kind but memif and given ports).
  [[nodiscard]] const net::VethPair& veth() const noexcept { return *veth_; }
  [[nodiscard]] bool has_veth() const noexcept { return veth_ != nullptr; }
  // The addresses of the two ends, for the frames the benches build.
  [[nodiscard]] const net::VethEnd& end_a() const noexcept { return veth_ ? veth_->end_a() : memif_end_a_; }
  [[nodiscard]] const net::VethEnd& end_b() const noexcept { return veth_ ? veth_->end_b() : memif_end_b_; }
  [[nodiscard]] PortWithPool& generator() noexcept { return generator_; }
  [[nodiscard]] PortWithPool& responder() noexcept { return responder_; }
  [[nodiscard]] const std::string& generator_spec() const noexcept { return generator_spec_; }
  [[nodiscard]] const std::string& responder_spec() const noexcept { return responder_spec_; }

 private:
  PortsOnVeth() = default;
  static Result<PortsOnVeth> create_memif(const std::string& generator_query, const std::string& responder_query);
  // Waits for both links, then takes the ends' addresses from the ports.
  Result<void> wait_for_links_and_name_ends(const std::string& what);

  // Declaration order is destruction order reversed: ports go before the veth pair.
  std::unique_ptr<net::VethPair> veth_;
  PortWithPool generator_;
  PortWithPool responder_;
  std::string generator_spec_;
  std::string responder_spec_;
  // The ends when there is no veth pair (memif, given ports).
  net::VethEnd memif_end_a_;
  net::VethEnd memif_end_b_;
};

}  // namespace aether::measure
