#include "aether/vfio/netdev_usage.hpp"

#include <charconv>
#include <sstream>

#include "sysfs_file.hpp"

namespace aether::vfio {
namespace {

// /proc/net/route: header line, then "Iface Destination Gateway Flags RefCnt
// Use Metric Mask MTU Window IRTT" with hex fields; default route has
// Destination 00000000 and Mask 00000000 (net/ipv4/fib_trie.c fib_route_seq_show).
void count_ipv4_routes(const std::string& text, NetdevUsage& usage) {
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string interface, destination, gateway, flags, refcnt, use, metric, mask;
    if (!(fields >> interface >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask)) continue;
    if (interface != usage.name) continue;
    ++usage.route_count;
    if (destination == "00000000" && mask == "00000000") usage.default_route = true;
  }
}

// /proc/net/ipv6_route: "dest(32 hex) dest_prefixlen(hex) src src_prefixlen
// next_hop metric refcnt use flags iface" (net/ipv6/route.c
// rt6_info_seq_show). ::/0 is the default route. Loopback-only entries
// ("lo") never match a NIC's name.
void count_ipv6_routes(const std::string& text, NetdevUsage& usage) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string destination, prefix_length, source, source_length, next_hop, metric, refcnt, use, flags, interface;
    if (!(fields >> destination >> prefix_length >> source >> source_length >> next_hop >> metric >> refcnt >> use >>
          flags >> interface)) {
      continue;
    }
    if (interface != usage.name) continue;
    // Local and multicast (ff00::/8) routes exist for every up interface
    // with IPv6; they do not mean traffic depends on it.
    if (destination.starts_with("ff") || destination.starts_with("fe80")) continue;
    ++usage.route_count;
    if (prefix_length == "00" && destination == std::string(32, '0')) usage.default_route = true;
  }
}

}  // namespace

Result<NetdevUsage> read_netdev_usage(const std::string& name, const std::string& sysfs_root,
                                      const std::string& proc_root) {
  NetdevUsage usage;
  usage.name = name;
  const std::string flags_path = fmt::format("{}/class/net/{}/flags", sysfs_root, name);
  auto flags_text = detail::read_text_file(flags_path);
  if (!flags_text) return std::move(flags_text).error();
  std::string_view digits = *flags_text;
  if (digits.starts_with("0x")) digits.remove_prefix(2);
  unsigned flags = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), flags, 16);
  if (error != std::errc() || end != digits.data() + digits.size()) {
    return invalid_argument(fmt::format("{} holds '{}', not hex interface flags", flags_path, *flags_text));
  }
  usage.up = (flags & 0x1U) != 0;  // IFF_UP, <linux/if.h>
  if (auto operstate = detail::read_text_file(fmt::format("{}/class/net/{}/operstate", sysfs_root, name))) {
    usage.operstate = *operstate;
  }
  // Missing files: no IPv4 routing table entries or IPv6 disabled.
  if (auto routes = detail::read_text_file(proc_root + "/net/route")) count_ipv4_routes(*routes, usage);
  if (auto routes = detail::read_text_file(proc_root + "/net/ipv6_route")) count_ipv6_routes(*routes, usage);
  return usage;
}

}  // namespace aether::vfio
