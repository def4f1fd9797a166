// What the afxdp port needs to know about the interface and the process
// before it touches anything: the interface exists (in the calling thread's
// network namespace), its index, MAC, MTU, driver and queue count, and that
// the process holds the capabilities AF_XDP needs.
#pragma once

#include <cstdint>
#include <string>

#include "aether/core/result.hpp"
#include "aether/net/port.hpp"
#include "file_descriptor.hpp"

namespace aether::backends::afxdp {

struct InterfaceFacts {
  int ifindex = 0;
  net::MacAddress mac{};
  unsigned mtu = 1500;
  std::string driver;        // ETHTOOL_GDRVINFO, e.g. "veth"; empty if unknown
  unsigned queue_count = 0;  // max(rx, tx, combined) channels; 0 if unknown
};

// Errors: "no interface 'X' in this network namespace", or the ioctl that
// failed.
[[nodiscard]] Result<InterfaceFacts> inspect_interface(const std::string& name);

// A datagram unix socket for the SIOCGIF* and SIOCETHTOOL ioctls: they
// answer for the namespace the socket was created in. (An AF_XDP socket
// refuses them: its ioctl is sock_no_ioctl.)
[[nodiscard]] Result<FileDescriptor> open_control_socket();

// Up when IFF_UP and IFF_RUNNING (carrier). Asks through `socket_fd` (from
// open_control_socket), so the answer comes from the socket's network
// namespace, whatever namespace the calling thread is in.
[[nodiscard]] net::LinkState read_link_state(int socket_fd, const std::string& name) noexcept;

// Refuses, naming every missing capability, unless the process holds
// CAP_NET_RAW (AF_XDP socket), CAP_NET_ADMIN (attach XDP) and CAP_BPF or
// CAP_SYS_ADMIN (load the program, create the map).
[[nodiscard]] Result<void> check_capabilities(const std::string& interface);

}  // namespace aether::backends::afxdp
