// Opening a port by its spec string: the one entry point the CLI, config
// files and benchmarks use. The kind picks the backend.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port.hpp"

namespace aether::net {

// A mempool configuration every backend accepts: 256 bytes of headroom
// (XDP_PACKET_HEADROOM, so AF_XDP can receive straight into the buffer),
// 2 KiB of data room, and a power-of-two stride (AF_XDP aligned chunks).
[[nodiscard]] mem::MempoolConfig default_packet_pool_config(std::size_t buffer_count, std::string name);

// Parses `spec` and opens it with the backend its kind names. Errors say
// which part of the spec is wrong, or why the backend could not open it
// (missing device, missing privilege), or that this build lacks the backend.
[[nodiscard]] Result<std::unique_ptr<Port>> open_port(std::string_view spec, const PortOptions& options);
[[nodiscard]] Result<std::unique_ptr<Port>> open_port(const PortSpec& spec, const PortOptions& options);

// Everything about `spec` that can be known without opening it: its syntax,
// its kind in this build, and the backend's own parameters (names, ranges,
// choices). Opens, allocates and touches nothing, so a command checks every
// spec the user typed this way before it allocates a pool: a typo is an error
// before any hugepage warning. open_port() checks the same again.
[[nodiscard]] Result<PortSpec> check_port_spec(std::string_view spec);

struct BackendDescription {
  std::string_view kind;
  std::string_view synopsis;   // "afxdp:IFNAME[?queue=N&mode=native|generic|auto&...]"
  std::string_view summary;    // one line
  bool available;              // compiled into this build
};
[[nodiscard]] std::vector<BackendDescription> describe_backends();
// The port kinds, in the registry's order: the one list (a kind whose
// backend is not in this build is still a kind, refused when opened).
[[nodiscard]] std::vector<std::string_view> port_kinds();

}  // namespace aether::net
