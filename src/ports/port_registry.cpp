// The backend table: kind -> open function, chosen once when a port opens.
#include "aether/net/port_registry.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#ifdef AETHER_HAVE_BACKEND_udp
#include "aether/backends/udp_port.hpp"
#endif
#ifdef AETHER_HAVE_BACKEND_afpacket
#include "aether/backends/afpacket_port.hpp"
#endif
#ifdef AETHER_HAVE_BACKEND_afxdp
#include "aether/backends/afxdp_port.hpp"
#endif
#ifdef AETHER_HAVE_BACKEND_memif
#include "aether/backends/memif_port.hpp"
#endif
#ifdef AETHER_HAVE_BACKEND_vfio
#include "aether/backends/vfio_port.hpp"
#endif

namespace aether::net {
namespace {

using OpenFunction = Result<std::unique_ptr<Port>> (*)(const PortSpec&, const PortOptions&);
using CheckFunction = Result<void> (*)(const PortSpec&);

struct Backend {
  BackendDescription description;
  OpenFunction open;
  CheckFunction check;  // the backend's own parse of the spec, nothing opened or allocated
};

// A backend's spec parser as a CheckFunction.
template <auto parse>
Result<void> check_with(const PortSpec& spec) {
  auto parsed = parse(spec);
  if (!parsed) return std::move(parsed).error();
  return {};
}

const std::vector<Backend>& backends() {
  static const std::vector<Backend> table = {
#ifdef AETHER_HAVE_BACKEND_udp
      {{"udp", backends::udp_synopsis, backends::udp_summary, true}, &backends::open_udp_port,
       &check_with<&backends::parse_udp_port_config>},
#else
      {{"udp", "udp:IP:PORT", "kernel UDP socket", false}, nullptr, nullptr},
#endif
#ifdef AETHER_HAVE_BACKEND_afpacket
      {{"afpacket", backends::afpacket_synopsis, backends::afpacket_summary, true}, &backends::open_afpacket_port,
       &check_with<&backends::parse_afpacket_config>},
#else
      {{"afpacket", "afpacket:IFNAME", "AF_PACKET TPACKET_V3 rings", false}, nullptr, nullptr},
#endif
#ifdef AETHER_HAVE_BACKEND_afxdp
      {{"afxdp", backends::afxdp_synopsis, backends::afxdp_summary, true}, &backends::open_afxdp_port,
       &check_with<&backends::parse_afxdp_options>},
#else
      {{"afxdp", "afxdp:IFNAME", "AF_XDP socket (this build has no libxdp)", false}, nullptr, nullptr},
#endif
#ifdef AETHER_HAVE_BACKEND_memif
      {{"memif", backends::memif_synopsis, backends::memif_summary, true}, &backends::open_memif_port,
       &check_with<&backends::parse_memif_config>},
#else
      {{"memif", "memif:SOCKET", "shared-memory interface (not built yet)", false}, nullptr, nullptr},
#endif
#ifdef AETHER_HAVE_BACKEND_vfio
      {{"vfio", backends::vfio_synopsis, backends::vfio_summary, true}, &backends::open_vfio_port,
       &check_with<&backends::parse_vfio_spec>},
#else
      {{"vfio", "vfio:PCI_ADDRESS", "userspace NIC driver over VFIO (not built yet)", false}, nullptr, nullptr},
#endif
  };
  return table;
}

}  // namespace

mem::MempoolConfig default_packet_pool_config(std::size_t buffer_count, std::string name) {
  mem::MempoolConfig config;
  config.count = buffer_count;
  config.headroom = 256;  // XDP_PACKET_HEADROOM, include/uapi/linux/bpf.h
  config.data_room = 2048;
  config.stride_power_of_two = true;
  config.name = std::move(name);
  return config;
}

Result<std::unique_ptr<Port>> open_port(std::string_view spec, const PortOptions& options) {
  auto parsed = parse_port_spec(spec);
  if (!parsed) return std::move(parsed).error();
  return open_port(*parsed, options);
}

namespace {

// The backend of `spec`'s kind, if this build has it.
Result<const Backend*> backend_for(const PortSpec& spec) {
  for (const auto& backend : backends()) {
    if (backend.description.kind != spec.kind) continue;
    if (backend.open == nullptr) {
      return Error{std::make_error_code(std::errc::function_not_supported),
                   fmt::format("port '{}': the {} backend is not in this build ({})", spec.text, spec.kind,
                               backend.description.summary)};
    }
    return &backend;
  }
  return invalid_argument(
      fmt::format("port '{}': unknown kind '{}' (known: {})", spec.text, spec.kind, fmt::join(port_kinds(), ", ")));
}

}  // namespace

Result<std::unique_ptr<Port>> open_port(const PortSpec& spec, const PortOptions& options) {
  if (options.pool == nullptr) return invalid_argument(fmt::format("port '{}': no mempool given", spec.text));
  auto backend = backend_for(spec);
  if (!backend) return std::move(backend).error();
  return (*backend)->open(spec, options);
}

Result<PortSpec> check_port_spec(std::string_view text) {
  auto spec = parse_port_spec(text);
  if (!spec) return std::move(spec).error();
  auto backend = backend_for(*spec);
  if (!backend) return std::move(backend).error();
  if (auto checked = (*backend)->check(*spec); !checked) return std::move(checked).error();
  return spec;
}

std::vector<std::string_view> port_kinds() {
  std::vector<std::string_view> kinds;
  for (const auto& backend : backends()) kinds.push_back(backend.description.kind);
  return kinds;
}

std::vector<BackendDescription> describe_backends() {
  std::vector<BackendDescription> out;
  for (const auto& backend : backends()) out.push_back(backend.description);
  return out;
}

}  // namespace aether::net
