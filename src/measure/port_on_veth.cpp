#include "aether/measure/port_on_veth.hpp"

#include "aether/net/port_registry.hpp"

namespace aether::measure {

Result<PortWithPool> open_port_in_namespace(const net::NetworkNamespace& ns, const std::string& spec,
                                            std::uint16_t port_id, std::size_t buffers) {
  PortWithPool opened;
  auto pool = mem::Mempool::create(net::default_packet_pool_config(buffers, "port" + std::to_string(port_id)));
  if (!pool) return std::move(pool).error();
  opened.pool = std::move(*pool);
  auto entered = net::ScopedNamespace::enter(ns);
  if (!entered) return std::move(entered).error();
  auto port = net::open_port(spec, net::PortOptions{opened.pool.get(), port_id});
  if (!port) return std::move(port).error();
  opened.port = std::move(*port);
  return opened;
}

std::string spec_for_veth_end(const std::string& kind, const net::VethEnd& end, std::uint16_t udp_port) {
  if (kind == "udp") return "udp:" + end.ip + ":" + std::to_string(udp_port);
  return kind + ":" + end.name;
}

Result<PortsOnVeth> PortsOnVeth::create(const std::string& kind, const std::string& generator_query,
                                        const std::string& responder_query, std::uint16_t udp_port) {
  PortsOnVeth link;
  net::VethPairConfig veth_config;
  // Only the udp backend goes through the kernel stack; for raw backends an
  // addressed kernel would answer every probe with ICMP port unreachable.
  veth_config.kernel_addresses = kind == "udp";
  auto veth = net::VethPair::create(veth_config);
  if (!veth) return std::move(veth).error();
  link.veth_ = std::make_unique<net::VethPair>(std::move(*veth));
  link.generator_spec_ = spec_for_veth_end(kind, link.veth_->end_a(), udp_port) + generator_query;
  link.responder_spec_ = spec_for_veth_end(kind, link.veth_->end_b(), udp_port) + responder_query;
  auto generator = open_port_in_namespace(link.veth_->namespace_a(), link.generator_spec_, 0);
  if (!generator) return std::move(generator).error();
  link.generator_ = std::move(*generator);
  auto responder = open_port_in_namespace(link.veth_->namespace_b(), link.responder_spec_, 1);
  if (!responder) return std::move(responder).error();
  link.responder_ = std::move(*responder);
  return link;
}

}  // namespace aether::measure
