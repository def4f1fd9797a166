// NetdevUsage: whether the kernel is using a network interface: up, and
// carrying routes (IPv4 /proc/net/route, IPv6 /proc/net/ipv6_route), the
// default route in particular. `aether bind` refuses such a device unless
// --force: taking it away would cut the host off the network.
#pragma once

#include <string>

#include "aether/core/result.hpp"

namespace aether::vfio {

struct NetdevUsage {
  std::string name;
  bool up = false;             // IFF_UP in <sysfs>/class/net/<name>/flags
  std::string operstate;       // <sysfs>/class/net/<name>/operstate
  unsigned route_count = 0;    // IPv4 + IPv6 routes through it
  bool default_route = false;  // 0.0.0.0/0 or ::/0 through it
  [[nodiscard]] bool in_use() const noexcept { return up && (route_count > 0 || default_route); }
};

// Reads the interface's flags and counts its routes. Missing route files
// (no IPv6) count as no routes; a missing interface is an error.
[[nodiscard]] Result<NetdevUsage> read_netdev_usage(const std::string& name, const std::string& sysfs_root = "/sys",
                                                    const std::string& proc_root = "/proc");

}  // namespace aether::vfio
