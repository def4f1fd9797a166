#include "opened_port.hpp"

#include <fmt/format.h>

#include "aether/net/port_registry.hpp"

namespace aether::cli {

Result<void> check_port_specs(std::span<const std::string> specs) {
  for (const std::string& spec : specs) {
    if (auto checked = net::check_port_spec(spec); !checked) return std::move(checked).error();
  }
  return {};
}

Result<std::unique_ptr<net::Port>> open_port_on_pool(const std::string& spec, std::uint16_t id, mem::Mempool& pool) {
  auto port = net::open_port(spec, net::PortOptions{&pool, id});
  if (!port) return std::move(port).error();
  describe_opened_port(spec, **port);
  return port;
}

Result<OpenedPort> open_port_with_pool(const std::string& spec, std::uint16_t id, std::size_t buffers) {
  // The spec first: a typo is an error before the pool's hugepage warning.
  if (auto checked = net::check_port_spec(spec); !checked) return std::move(checked).error();
  OpenedPort opened;
  auto pool = mem::Mempool::create(net::default_packet_pool_config(buffers, "port" + std::to_string(id)));
  if (!pool) return std::move(pool).error();
  opened.pool = std::move(*pool);
  auto port = open_port_on_pool(spec, id, *opened.pool);
  if (!port) return std::move(port).error();
  opened.port = std::move(*port);
  return opened;
}

void describe_opened_port(const std::string& spec, const net::Port& port) {
  const auto& info = port.info();
  fmt::print(stderr, "port {}: {} on {}, mac {}, link {}\n", spec, info.mode, info.interface, net::format_mac(info.mac),
             net::to_string(port.link_state()));
  for (const auto& note : info.notes) fmt::print(stderr, "  note: {}\n", note);
}

}  // namespace aether::cli
