// Interface facts, link state and capabilities (see interface.hpp).
#include "interface.hpp"

#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace aether::backends::afxdp {
namespace {

ifreq request_for(const std::string& name) {
  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), std::min(name.size(), sizeof(request.ifr_name) - 1));
  return request;
}

}  // namespace

Result<InterfaceFacts> inspect_interface(const std::string& name) {
  InterfaceFacts facts;
  facts.ifindex = static_cast<int>(if_nametoindex(name.c_str()));
  if (facts.ifindex == 0) {
    return errno_error(fmt::format("no interface '{}' in this network namespace (see 'ip link show')", name),
                       errno == 0 ? ENODEV : errno);
  }
  auto control = open_control_socket();
  if (!control) return std::move(control).error();
  const FileDescriptor& socket_fd = *control;

  ifreq request = request_for(name);
  if (ioctl(socket_fd.get(), SIOCGIFMTU, &request) != 0) {
    return errno_error(fmt::format("cannot read the MTU of '{}' (SIOCGIFMTU)", name));
  }
  facts.mtu = static_cast<unsigned>(request.ifr_mtu);
  request = request_for(name);
  if (ioctl(socket_fd.get(), SIOCGIFHWADDR, &request) == 0) {
    std::memcpy(facts.mac.data(), request.ifr_hwaddr.sa_data, facts.mac.size());
  }

  ethtool_drvinfo driver{};
  driver.cmd = ETHTOOL_GDRVINFO;
  request = request_for(name);
  request.ifr_data = reinterpret_cast<char*>(&driver);
  if (ioctl(socket_fd.get(), SIOCETHTOOL, &request) == 0) {
    facts.driver.assign(driver.driver, strnlen(driver.driver, sizeof(driver.driver)));
  }

  // The bind refuses queue ids >= max(real rx, real tx queues)
  // (xsk_reg_pool_at_qid, net/xdp/xsk.c); drivers report queues as
  // separate rx/tx channels or as combined ones.
  ethtool_channels channels{};
  channels.cmd = ETHTOOL_GCHANNELS;
  request = request_for(name);
  request.ifr_data = reinterpret_cast<char*>(&channels);
  if (ioctl(socket_fd.get(), SIOCETHTOOL, &request) == 0) {
    facts.queue_count = std::max({channels.rx_count, channels.tx_count, channels.combined_count});
  }
  return facts;
}

Result<FileDescriptor> open_control_socket() {
  FileDescriptor socket_fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket_fd.valid()) return errno_error("cannot create a unix socket for interface ioctls");
  return socket_fd;
}

net::LinkState read_link_state(int socket_fd, const std::string& name) noexcept {
  ifreq request = request_for(name);
  if (ioctl(socket_fd, SIOCGIFFLAGS, &request) != 0) return net::LinkState::unknown;
  const auto flags = static_cast<unsigned>(static_cast<unsigned short>(request.ifr_flags));
  return (flags & IFF_UP) != 0 && (flags & IFF_RUNNING) != 0 ? net::LinkState::up : net::LinkState::down;
}

Result<void> check_capabilities(const std::string& interface) {
  // capget(2) with version 3: two 32-bit words per set (CAP_BPF is 39).
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return {};  // cannot tell: let the kernel refuse with EPERM later
  const auto has = [&](unsigned capability) {
    return (data[capability / 32].effective & (1u << (capability % 32))) != 0;
  };
  std::vector<std::string> missing;
  if (!has(CAP_NET_RAW)) missing.emplace_back("CAP_NET_RAW (to create the AF_XDP socket)");
  if (!has(CAP_NET_ADMIN)) missing.emplace_back("CAP_NET_ADMIN (to attach the XDP program)");
  // Before Linux 5.8 there is no CAP_BPF and only CAP_SYS_ADMIN will do.
  if (!has(CAP_BPF) && !has(CAP_SYS_ADMIN)) {
    missing.emplace_back("CAP_BPF or CAP_SYS_ADMIN (to load the XDP program and create its map)");
  }
  if (missing.empty()) return {};
  return Error{std::make_error_code(std::errc::operation_not_permitted),
               fmt::format("an AF_XDP port on '{}' needs root: this process lacks {}", interface,
                           fmt::join(missing, ", "))};
}

}  // namespace aether::backends::afxdp
