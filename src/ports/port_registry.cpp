// The backend table: kind -> open function, chosen once when a port opens.
#include "aether/net/port_registry.hpp"

#include <fmt/format.h>

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

struct Backend {
  BackendDescription description;
  OpenFunction open;
};

const std::vector<Backend>& backends() {
  static const std::vector<Backend> table = {
#ifdef AETHER_HAVE_BACKEND_udp
      {{"udp", backends::udp_synopsis, backends::udp_summary, true}, &backends::open_udp_port},
#else
      {{"udp", "udp:IP:PORT", "kernel UDP socket", false}, nullptr},
#endif
#ifdef AETHER_HAVE_BACKEND_afpacket
      {{"afpacket", backends::afpacket_synopsis, backends::afpacket_summary, true}, &backends::open_afpacket_port},
#else
      {{"afpacket", "afpacket:IFNAME", "AF_PACKET TPACKET_V3 rings", false}, nullptr},
#endif
#ifdef AETHER_HAVE_BACKEND_afxdp
      {{"afxdp", backends::afxdp_synopsis, backends::afxdp_summary, true}, &backends::open_afxdp_port},
#else
      {{"afxdp", "afxdp:IFNAME", "AF_XDP socket (this build has no libxdp)", false}, nullptr},
#endif
#ifdef AETHER_HAVE_BACKEND_memif
      {{"memif", backends::memif_synopsis, backends::memif_summary, true}, &backends::open_memif_port},
#else
      {{"memif", "memif:SOCKET", "shared-memory interface (not built yet)", false}, nullptr},
#endif
#ifdef AETHER_HAVE_BACKEND_vfio
      {{"vfio", backends::vfio_synopsis, backends::vfio_summary, true}, &backends::open_vfio_port},
#else
      {{"vfio", "vfio:PCI_ADDRESS", "userspace NIC driver over VFIO (not built yet)", false}, nullptr},
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

Result<std::unique_ptr<Port>> open_port(const PortSpec& spec, const PortOptions& options) {
  if (options.pool == nullptr) return invalid_argument(fmt::format("port '{}': no mempool given", spec.text));
  for (const auto& backend : backends()) {
    if (backend.description.kind != spec.kind) continue;
    if (backend.open == nullptr) {
      return Error{std::make_error_code(std::errc::function_not_supported),
                   fmt::format("port '{}': the {} backend is not in this build ({})", spec.text, spec.kind,
                               backend.description.summary)};
    }
    return backend.open(spec, options);
  }
  return invalid_argument(fmt::format("port '{}': unknown kind '{}'", spec.text, spec.kind));
}

std::vector<BackendDescription> describe_backends() {
  std::vector<BackendDescription> out;
  for (const auto& backend : backends()) out.push_back(backend.description);
  return out;
}

}  // namespace aether::net
