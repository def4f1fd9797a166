// Throwaway network namespaces and veth pairs for tests and benchmarks.
//
// The namespaces are anonymous: no bind mount under /run/netns, only file
// descriptors held by this process. When the process ends, however it ends
// (even kill -9), the kernel frees them, and with them the veth pair and any
// XDP program attached to it. Nothing is left behind to clean up.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/net/frame.hpp"

namespace aether::net {

// A move-only owner of one network namespace (an fd on its nsfs inode).
class NetworkNamespace {
 public:
  // Makes a new empty namespace (needs CAP_SYS_ADMIN). Its loopback is brought up.
  static Result<NetworkNamespace> create();
  // The namespace the calling thread is in now.
  static Result<NetworkNamespace> current();

  NetworkNamespace(NetworkNamespace&& other) noexcept;
  NetworkNamespace& operator=(NetworkNamespace&& other) noexcept;
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;
  ~NetworkNamespace();

  [[nodiscard]] int fd() const noexcept { return fd_; }
  // A path other processes (ip, nsenter) can open: /proc/<pid>/fd/<fd>.
  [[nodiscard]] std::string path() const;

  // Moves the calling thread into this namespace (setns). Only this thread
  // moves; sockets it opens from now on belong to the namespace.
  [[nodiscard]] Result<void> enter() const;

  // Runs `ip ARGS...` inside this namespace; the error carries ip's stderr.
  [[nodiscard]] Result<void> run_ip(const std::vector<std::string>& args) const;

 private:
  explicit NetworkNamespace(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

// Enters a namespace for the calling thread and returns to the previous one
// when destroyed.
class ScopedNamespace {
 public:
  static Result<ScopedNamespace> enter(const NetworkNamespace& target);
  ScopedNamespace(ScopedNamespace&& other) noexcept = default;
  ScopedNamespace& operator=(ScopedNamespace&&) = delete;
  ScopedNamespace(const ScopedNamespace&) = delete;
  ~ScopedNamespace();

 private:
  explicit ScopedNamespace(NetworkNamespace previous) noexcept : previous_(std::move(previous)) {}
  std::optional<NetworkNamespace> previous_;
};

// One end of a veth pair as configured.
struct VethEnd {
  std::string name;
  MacAddress mac{};
  std::uint32_t ip_be = 0;
  std::string ip;  // dotted, for messages and specs
};

struct VethPairConfig {
  std::string name_a = "aeth0";
  std::string name_b = "aeth1";
  std::string ip_a = "10.77.0.1";
  std::string ip_b = "10.77.0.2";
  unsigned prefix_length = 24;
  // Give the kernel stack the addresses. Off for raw backends (afpacket,
  // afxdp): the kernel then drops their UDP frames silently as not its own,
  // instead of answering each with ICMP port unreachable. The ends keep
  // their ip fields either way, for building frames.
  bool kernel_addresses = true;
  unsigned mtu = 1500;
  // Static neighbour entries both ways, so no ARP is needed on the data
  // path (a kernel UDP socket would otherwise stall on its first packet).
  bool static_neighbours = true;
  // Turns off offloads (GRO/TSO/checksum) that would coalesce or defer frames.
  bool disable_offloads = true;
};

// Two fresh namespaces joined by a veth pair, both ends up and addressed.
class VethPair {
 public:
  static Result<VethPair> create(const VethPairConfig& config = {});

  [[nodiscard]] const NetworkNamespace& namespace_a() const noexcept { return namespace_a_; }
  [[nodiscard]] const NetworkNamespace& namespace_b() const noexcept { return namespace_b_; }
  [[nodiscard]] const VethEnd& end_a() const noexcept { return end_a_; }
  [[nodiscard]] const VethEnd& end_b() const noexcept { return end_b_; }

 private:
  VethPair(NetworkNamespace a, NetworkNamespace b) noexcept : namespace_a_(std::move(a)), namespace_b_(std::move(b)) {}
  NetworkNamespace namespace_a_;
  NetworkNamespace namespace_b_;
  VethEnd end_a_;
  VethEnd end_b_;
};

}  // namespace aether::net
