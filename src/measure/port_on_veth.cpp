#include "aether/measure/port_on_veth.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "aether/measure/latency_bench.hpp"
#include "aether/net/port_registry.hpp"

namespace aether::measure {

Result<PortWithPool> open_port_and_pool(const std::string& spec, std::uint16_t port_id, std::size_t buffers) {
  // The spec first: a typo is an error before the pool's hugepage warning.
  if (auto checked = net::check_port_spec(spec); !checked) return std::move(checked).error();
  PortWithPool opened;
  auto pool = mem::Mempool::create(net::default_packet_pool_config(buffers, "port" + std::to_string(port_id)));
  if (!pool) return std::move(pool).error();
  opened.pool = std::move(*pool);
  auto port = net::open_port(spec, net::PortOptions{opened.pool.get(), port_id});
  if (!port) return std::move(port).error();
  opened.port = std::move(*port);
  return opened;
}

Result<PortWithPool> open_port_in_namespace(const net::NetworkNamespace& ns, const std::string& spec,
                                            std::uint16_t port_id, std::size_t buffers) {
  auto entered = net::ScopedNamespace::enter(ns);
  if (!entered) return std::move(entered).error();
  return open_port_and_pool(spec, port_id, buffers);
}

std::string spec_for_veth_end(const std::string& kind, const net::VethEnd& end, std::uint16_t udp_port) {
  if (kind == "udp") return "udp:" + end.ip + ":" + std::to_string(udp_port);
  return kind + ":" + end.name;
}

Result<PortsOnVeth> PortsOnVeth::create_memif(const std::string& generator_query, const std::string& responder_query) {
  // An abstract socket: nothing to clean up, and unique per process and link.
  static std::atomic<unsigned> links{0};
  const std::string socket = fmt::format("memif:@aether-bench-{}-{}", ::getpid(), links++);
  PortsOnVeth link;
  link.responder_spec_ = socket + "?role=server" + (responder_query.empty() ? "" : "&" + responder_query.substr(1));
  link.generator_spec_ = socket + "?role=client" + (generator_query.empty() ? "" : "&" + generator_query.substr(1));
  for (auto [opened, spec, port_id] : {std::tuple{&link.responder_, &link.responder_spec_, 1},
                                       std::tuple{&link.generator_, &link.generator_spec_, 0}}) {
    auto port = open_port_and_pool(*spec, static_cast<std::uint16_t>(port_id));
    if (!port) return std::move(port).error();
    *opened = std::move(*port);
  }
  // The client connects in the background: wait for the link.
  if (auto up = link.wait_for_links_and_name_ends("memif link " + socket); !up) return std::move(up).error();
  return link;
}

Result<void> PortsOnVeth::wait_for_links_and_name_ends(const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (generator_.port->link_state() != net::LinkState::up || responder_.port->link_state() != net::LinkState::up) {
    if (std::chrono::steady_clock::now() > deadline) {
      // A backend that cannot tell (unknown) is given the benefit of the doubt.
      for (auto [port, spec] : {std::pair{&generator_, &generator_spec_}, std::pair{&responder_, &responder_spec_}}) {
        if (port->port->link_state() == net::LinkState::down) {
          return Error{std::make_error_code(std::errc::timed_out),
                       fmt::format("{}: the link of {} is still down after 5 s: check that the two ports are connected "
                                   "and their links are up",
                                   what, *spec)};
        }
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // No kernel stack sees these addresses: they only fill the probes' headers.
  for (auto [end, port, ip] : {std::tuple{&memif_end_a_, &generator_, "10.77.0.1"},
                               std::tuple{&memif_end_b_, &responder_, "10.77.0.2"}}) {
    end->name = port->port->info().interface;
    end->mac = port->port->info().mac;
    end->ip = ip;
    ::inet_pton(AF_INET, ip, &end->ip_be);
  }
  return {};
}

Result<PortsOnVeth> PortsOnVeth::open_given(const std::string& generator_spec, const std::string& responder_spec) {
  PortsOnVeth link;
  link.generator_spec_ = generator_spec;
  link.responder_spec_ = responder_spec;
  // The responder first, as for memif: it is listening before the first probe.
  auto responder = open_port_and_pool(responder_spec, 1);
  if (!responder) return Error{responder.error().code, "--ports: B (responder): " + responder.error().message};
  link.responder_ = std::move(*responder);
  auto generator = open_port_and_pool(generator_spec, 0);
  if (!generator) return Error{generator.error().code, "--ports: A (generator): " + generator.error().message};
  link.generator_ = std::move(*generator);
  if (auto up = link.wait_for_links_and_name_ends("--ports " + generator_spec + "," + responder_spec); !up) {
    return std::move(up).error();
  }
  return link;
}

Result<PortsOnVeth> PortsOnVeth::open_for(const BenchBackend& backend, std::uint16_t udp_port) {
  if (backend.given()) return open_given(backend.given_generator_spec, backend.given_responder_spec);
  return create(backend.kind, backend.generator_query, backend.responder_query, udp_port);
}

Result<PortsOnVeth> PortsOnVeth::create(const std::string& kind, const std::string& generator_query,
                                        const std::string& responder_query, std::uint16_t udp_port) {
  if (kind == "memif") return create_memif(generator_query, responder_query);
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
