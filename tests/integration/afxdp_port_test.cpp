// afxdp backend on a real veth pair in throwaway namespaces (needs root):
// negotiated modes, frames both ways in native and generic XDP, against a
// kernel UDP socket, packets of a foreign pool, refusals, and the promise
// that a killed process leaves no XDP program behind.
#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "aether/backends/afxdp_port.hpp"
#include "port_contract_checks.hpp"
#include "port_test_support.hpp"

namespace aether::test {
namespace {

constexpr std::uint16_t kUdpPort = 9000;

// Payload sizes from 18 (a 60-byte frame) to 1472 (a 1514-byte frame).
std::size_t payload_size(std::size_t i) { return 18 + (i * 131) % (1472 - 18 + 1); }

std::string afxdp_spec(const net::VethEnd& end, const std::string& parameters) {
  return "afxdp:" + end.name + (parameters.empty() ? "" : "?" + parameters);
}

bool contains(const std::vector<std::string>& notes, const std::string& text) {
  return std::any_of(notes.begin(), notes.end(), [&](const auto& note) { return note.find(text) != std::string::npos; });
}

// The XDP program attached to `name` inside `ns` (0: none).
std::uint32_t xdp_program_on(const net::NetworkNamespace& ns, const std::string& name) {
  auto entered = net::ScopedNamespace::enter(ns);
  if (!entered) return 0;
  const int ifindex = static_cast<int>(if_nametoindex(name.c_str()));
  bpf_xdp_query_opts query{};
  query.sz = sizeof(query);
  if (ifindex == 0 || bpf_xdp_query(ifindex, 0, &query) != 0) return 0;
  return query.prog_id;
}

// `ip -d link show dev NAME` inside `ns`, through nsenter; empty if either
// tool is missing.
std::string ip_link_show(const net::NetworkNamespace& ns, const std::string& name) {
  const std::string command = "nsenter --net=" + ns.path() + " ip -d link show dev " + name + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string output;
  std::array<char, 512> chunk{};
  while (fgets(chunk.data(), static_cast<int>(chunk.size()), pipe) != nullptr) output += chunk.data();
  pclose(pipe);
  return output;
}

// Sends `count` UDP frames of varied sizes from `from` to `to`; checks that
// all arrive once, intact, and that both sides counted them.
void exchange(OpenedPort& from, const net::VethEnd& from_end, OpenedPort& to, const net::VethEnd& to_end,
              std::size_t count, mem::Mempool* sender_pool = nullptr) {
  mem::Mempool& pool = sender_pool != nullptr ? *sender_pool : *from.pool;
  const auto before_from = from.port->stats();
  const auto before_to = to.port->stats();
  std::vector<bool> seen(count, false);
  std::size_t corrupt = 0;
  auto check = [&](mem::Packet& packet) {
    net::FrameError error{};
    auto view = net::parse_udp_frame(std::span(packet.data(), packet.length()), error);
    std::uint32_t sequence = 0;
    if (!view || !payload_matches(view->payload, sequence) || sequence >= count ||
        view->payload.size() != payload_size(sequence) || seen[sequence]) {
      ++corrupt;
      return;
    }
    seen[sequence] = true;
  };
  std::size_t received = 0;
  std::uint64_t bytes = 0;
  constexpr std::size_t slice = 64;
  for (std::size_t offset = 0; offset < count; offset += slice) {
    std::vector<mem::Packet*> packets;
    for (std::size_t i = offset; i < std::min(count, offset + slice); ++i) {
      mem::Packet* packet = make_udp_packet(pool, endpoint_of(from_end, kUdpPort), endpoint_of(to_end, kUdpPort),
                                            payload_size(i), static_cast<std::uint32_t>(i));
      ASSERT_NE(packet, nullptr);
      bytes += packet->length();
      packets.push_back(packet);
    }
    const std::size_t expected = packets.size();
    ASSERT_EQ(send_all(from.port->queue(0), pool, std::move(packets)), expected);
    received += receive(to.port->queue(0), *to.pool, expected, check, &from.port->queue(0));
  }
  EXPECT_EQ(received, count);
  EXPECT_EQ(corrupt, 0u);
  const auto after_from = from.port->stats();
  const auto after_to = to.port->stats();
  EXPECT_EQ(after_from.tx_packets - before_from.tx_packets, count);
  EXPECT_EQ(after_from.tx_bytes - before_from.tx_bytes, bytes);
  EXPECT_EQ(after_to.rx_packets - before_to.rx_packets, count);
  EXPECT_EQ(after_to.rx_bytes - before_to.rx_bytes, bytes);
  EXPECT_EQ(after_to.rx_drops(), before_to.rx_drops());
  EXPECT_EQ(after_from.tx_drops(), before_from.tx_drops());
}

void expect_clean_diagnostics(net::Port& port) {
  EXPECT_EQ(contract::xstat(port, "invalid_kernel_addresses"), 0u);
  EXPECT_EQ(contract::xstat(port, "kernel_rx_invalid_descs"), 0u);
  EXPECT_EQ(contract::xstat(port, "kernel_tx_invalid_descs"), 0u);
  EXPECT_EQ(contract::xstat(port, "kernel_rx_ring_full"), 0u);
}

class AfxdpPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!running_as_root()) GTEST_SKIP() << "needs root: makes namespaces, veth pairs and AF_XDP sockets";
    auto veth = net::VethPair::create();
    ASSERT_TRUE(veth.ok()) << veth.error().describe();
    veth_ = std::make_unique<net::VethPair>(std::move(*veth));
  }

  OpenedPort open_a(const std::string& parameters) { return open(veth_->namespace_a(), veth_->end_a(), parameters, 0); }
  OpenedPort open_b(const std::string& parameters) { return open(veth_->namespace_b(), veth_->end_b(), parameters, 1); }
  OpenedPort open(const net::NetworkNamespace& ns, const net::VethEnd& end, const std::string& parameters,
                  std::uint16_t id) {
    auto opened = open_in_namespace(ns, afxdp_spec(end, parameters), id);
    EXPECT_TRUE(opened.ok()) << opened.error().describe();
    if (!opened.ok()) return {};
    for (const auto& note : opened->port->info().notes) std::printf("    [%s] note: %s\n", end.name.c_str(), note.c_str());
    std::printf("    [%s] mode: %s\n", end.name.c_str(), opened->port->info().mode.c_str());
    return std::move(*opened);
  }

  std::unique_ptr<net::VethPair> veth_;
};

TEST_F(AfxdpPortTest, AutoModeOnVethIsNativeCopyAndSaysWhyNotZeroCopy) {
  OpenedPort a = open_a("");
  ASSERT_TRUE(a.port);
  const auto& info = a.port->info();
  EXPECT_EQ(info.kind, "afxdp");
  EXPECT_EQ(info.interface, veth_->end_a().name);
  EXPECT_EQ(info.mode, "native copy");
  EXPECT_TRUE(contains(info.notes, "zero-copy refused")) << "veth has no AF_XDP zero-copy: the note must say so";
  EXPECT_EQ(info.mac, veth_->end_a().mac);
  EXPECT_EQ(info.mtu, 1500u);
  EXPECT_EQ(a.port->link_state(), net::LinkState::up);
  EXPECT_NE(xdp_program_on(veth_->namespace_a(), veth_->end_a().name), 0u);
  a.port.reset();
  EXPECT_EQ(xdp_program_on(veth_->namespace_a(), veth_->end_a().name), 0u) << "closing the port detaches the program";
}

TEST_F(AfxdpPortTest, GenericModeIsReportedAsGenericCopy) {
  OpenedPort a = open_a("mode=generic");
  ASSERT_TRUE(a.port);
  EXPECT_EQ(a.port->info().mode, "generic copy");
}

// Frames both ways with AF_XDP on both ends, for each pair of XDP modes:
// on veth a frame sent by one end is received by the other end's XDP
// program (in veth's NAPI for native mode, in the stack for generic).
class AfxdpModePairs : public AfxdpPortTest,
                       public ::testing::WithParamInterface<std::pair<std::string, std::string>> {};

TEST_P(AfxdpModePairs, DeliversFramesOfEverySizeBothWays) {
  OpenedPort a = open_a("mode=" + GetParam().first);
  OpenedPort b = open_b("mode=" + GetParam().second);
  ASSERT_TRUE(a.port && b.port);
  EXPECT_EQ(a.port->info().mode, GetParam().first + " copy");
  EXPECT_EQ(b.port->info().mode, GetParam().second + " copy");
  exchange(a, veth_->end_a(), b, veth_->end_b(), 600);
  exchange(b, veth_->end_b(), a, veth_->end_a(), 600);
  expect_clean_diagnostics(*a.port);
  expect_clean_diagnostics(*b.port);
}

INSTANTIATE_TEST_SUITE_P(Modes, AfxdpModePairs,
                         ::testing::Values(std::pair<std::string, std::string>{"native", "native"},
                                           std::pair<std::string, std::string>{"generic", "generic"},
                                           std::pair<std::string, std::string>{"native", "generic"}),
                         [](const auto& test) { return test.param.first + "_" + test.param.second; });

// A kernel UDP socket on the peer: the peer end has no XDP program at all.
class KernelUdpSocket {
 public:
  KernelUdpSocket(const net::NetworkNamespace& ns, const net::VethEnd& end) {
    auto entered = net::ScopedNamespace::enter(ns);
    if (!entered) return;
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(kUdpPort);
    address.sin_addr.s_addr = end.ip_be;
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~KernelUdpSocket() {
    if (fd_ >= 0) close(fd_);
  }
  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

TEST_F(AfxdpPortTest, TalksToAKernelUdpSocketOnAPeerWithoutXdp) {
  OpenedPort a = open_a("mode=native");
  ASSERT_TRUE(a.port);
  KernelUdpSocket peer(veth_->namespace_b(), veth_->end_b());
  ASSERT_GE(peer.fd(), 0) << "cannot bind a UDP socket in namespace b";
  constexpr std::size_t count = 300;

  // AF_XDP -> kernel socket.
  std::vector<mem::Packet*> packets;
  for (std::size_t i = 0; i < count; ++i) {
    packets.push_back(make_udp_packet(*a.pool, endpoint_of(veth_->end_a(), kUdpPort),
                                      endpoint_of(veth_->end_b(), kUdpPort), payload_size(i),
                                      static_cast<std::uint32_t>(i)));
    ASSERT_NE(packets.back(), nullptr);
  }
  std::vector<bool> seen(count, false);
  std::size_t good = 0;
  std::array<std::byte, 2048> buffer{};
  const auto drain = [&] {
    ssize_t got = 0;
    while ((got = recv(peer.fd(), buffer.data(), buffer.size(), 0)) > 0) {
      std::uint32_t sequence = 0;
      if (payload_matches(std::span(buffer.data(), static_cast<std::size_t>(got)), sequence) && sequence < count &&
          static_cast<std::size_t>(got) == payload_size(sequence) && !seen[sequence]) {
        seen[sequence] = true;
        ++good;
      }
    }
  };
  for (std::size_t offset = 0; offset < count; offset += 32) {
    std::vector<mem::Packet*> part(packets.begin() + static_cast<std::ptrdiff_t>(offset),
                                   packets.begin() + static_cast<std::ptrdiff_t>(std::min(count, offset + 32)));
    const std::size_t expected = part.size();
    ASSERT_EQ(send_all(a.port->queue(0), *a.pool, std::move(part)), expected);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (good < offset + expected && std::chrono::steady_clock::now() < deadline) {
      drain();
      (void)a.port->queue(0).tx_burst(std::span<mem::Packet*>());
    }
  }
  EXPECT_EQ(good, count) << "frames sent by AF_XDP reached the peer's UDP socket";

  // Kernel socket -> AF_XDP.
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(kUdpPort);
  to.sin_addr.s_addr = veth_->end_a().ip_be;
  std::vector<bool> arrived(count, false);
  std::size_t received = 0;
  for (std::size_t i = 0; i < count; ++i) {
    fill_payload(buffer.data(), payload_size(i), static_cast<std::uint32_t>(i));
    ASSERT_EQ(sendto(peer.fd(), buffer.data(), payload_size(i), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
              static_cast<ssize_t>(payload_size(i)));
    if (i % 32 == 31 || i + 1 == count) {
      received += receive(a.port->queue(0), *a.pool, (i % 32) + 1, [&](mem::Packet& packet) {
        net::FrameError error{};
        auto view = net::parse_udp_frame(std::span(packet.data(), packet.length()), error);
        std::uint32_t sequence = 0;
        if (view && payload_matches(view->payload, sequence) && sequence < count &&
            view->payload.size() == payload_size(sequence)) {
          arrived[sequence] = true;
        }
      });
    }
  }
  EXPECT_EQ(received, count);
  EXPECT_EQ(std::count(arrived.begin(), arrived.end(), true), static_cast<std::ptrdiff_t>(count));
  expect_clean_diagnostics(*a.port);
}

TEST_F(AfxdpPortTest, CopiesPacketsFromAnotherPoolAndCountsThem) {
  OpenedPort a = open_a("");
  OpenedPort b = open_b("");
  ASSERT_TRUE(a.port && b.port);
  auto foreign = mem::Mempool::create(net::default_packet_pool_config(512, "foreign"));
  ASSERT_TRUE(foreign.ok()) << foreign.error().describe();
  exchange(a, veth_->end_a(), b, veth_->end_b(), 200, foreign->get());
  EXPECT_EQ(contract::xstat(*a.port, "tx_foreign_copies"), 200u);
  EXPECT_EQ((*foreign)->available(), (*foreign)->capacity()) << "the originals went back to their own pool";
}

TEST_F(AfxdpPortTest, RefusesFramesItCannotSendAndCountsThem) {
  OpenedPort a = open_a("");
  ASSERT_TRUE(a.port);
  std::array<mem::Packet*, 3> packets{};
  ASSERT_EQ(a.pool->alloc_bulk(packets), 3u);
  ASSERT_TRUE(packets[0]->set_length(10));    // shorter than an Ethernet header
  ASSERT_TRUE(packets[1]->set_length(1600));  // longer than MTU 1500 + 18
  packets[2]->next = nullptr;                 // empty frame
  EXPECT_EQ(a.port->queue(0).tx_burst(packets), 3u) << "refused frames are taken (and freed)";
  const auto stats = a.port->stats();
  EXPECT_EQ(stats.tx_drop_bad_frame, 3u);
  EXPECT_EQ(stats.tx_packets, 0u);
}

// A receiver that does not poll runs out of fill-ring buffers; the kernel
// drops the rest and the queue's stats account for every frame once the
// worker has folded XDP_STATISTICS in (every ~100 ms, checked every 256
// bursts).
TEST_F(AfxdpPortTest, CountsFramesDroppedForWantOfBuffers) {
  OpenedPort a = open_a("");
  ASSERT_TRUE(a.port);
  OpenedPort b;
  {
    // 1024 buffers: the fill ring gets a quarter, 256.
    auto pool = mem::Mempool::create(net::default_packet_pool_config(1024, "small-b"));
    ASSERT_TRUE(pool.ok());
    b.pool = std::move(*pool);
    auto entered = net::ScopedNamespace::enter(veth_->namespace_b());
    ASSERT_TRUE(entered.ok());
    auto port = net::open_port(afxdp_spec(veth_->end_b(), ""), net::PortOptions{b.pool.get(), 1});
    ASSERT_TRUE(port.ok()) << port.error().describe();
    b.port = std::move(*port);
  }
  ASSERT_EQ(contract::xstat(*b.port, "fill_ring_target"), 256u);

  constexpr std::size_t sent = 600;
  for (std::size_t offset = 0; offset < sent; offset += 32) {
    std::vector<mem::Packet*> packets;
    for (std::size_t i = offset; i < offset + 32 && i < sent; ++i) {
      packets.push_back(make_udp_packet(*a.pool, endpoint_of(veth_->end_a(), kUdpPort),
                                        endpoint_of(veth_->end_b(), kUdpPort), 100, static_cast<std::uint32_t>(i)));
    }
    const std::size_t expected = packets.size();
    ASSERT_EQ(send_all(a.port->queue(0), *a.pool, std::move(packets)), expected);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::size_t received = 0;
  std::array<mem::Packet*, 32> burst{};
  for (int i = 0; i < 1024; ++i) {  // enough bursts for the worker to fold the kernel counters in
    const unsigned n = b.port->queue(0).rx_burst(burst);
    b.pool->free_bulk(std::span(burst.data(), n));
    received += n;
  }
  const auto stats = b.port->stats();
  EXPECT_EQ(received, 256u) << "the fill ring held 256 buffers";
  EXPECT_EQ(stats.rx_packets, received);
  EXPECT_EQ(stats.rx_drop_no_buffer, sent - received) << "kernel drops for want of a buffer, counted once";
  EXPECT_EQ(stats.rx_drop_kernel, 0u);
  EXPECT_EQ(contract::xstat(*b.port, "kernel_rx_fill_ring_empty_descs"), sent - received);
}

TEST_F(AfxdpPortTest, BusyPollingIsNegotiatedAndFramesStillFlow) {
  OpenedPort a = open_a("busy_poll=1&busy_poll_usec=50&busy_poll_budget=32");
  OpenedPort b = open_b("busy_poll=1");
  ASSERT_TRUE(a.port && b.port);
  EXPECT_NE(a.port->info().mode.find("busy poll"), std::string::npos) << a.port->info().mode;
  EXPECT_TRUE(contains(a.port->info().notes, "napi_defer_hard_irqs"));
  exchange(a, veth_->end_a(), b, veth_->end_b(), 200);
  exchange(b, veth_->end_b(), a, veth_->end_a(), 200);
}

TEST_F(AfxdpPortTest, RefusesWhatItCannotDoWithTheReason) {
  auto pool = mem::Mempool::create(net::default_packet_pool_config(1024, "refusals"));
  ASSERT_TRUE(pool.ok());
  auto entered = net::ScopedNamespace::enter(veth_->namespace_a());
  ASSERT_TRUE(entered.ok());
  const auto open = [&](const std::string& spec) { return net::open_port(spec, net::PortOptions{pool->get(), 0}); };
  const std::string name = veth_->end_a().name;

  auto missing = open("afxdp:nosuchif0");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no interface 'nosuchif0'"), std::string::npos) << missing.error().describe();

  auto zero_copy = open("afxdp:" + name + "?zero_copy=on");
  ASSERT_FALSE(zero_copy.ok());
  EXPECT_NE(zero_copy.error().message.find("zero-copy"), std::string::npos) << zero_copy.error().describe();

  auto queue = open("afxdp:" + name + "?queue=3");
  ASSERT_FALSE(queue.ok());
  EXPECT_NE(queue.error().message.find("queue=3"), std::string::npos) << queue.error().describe();

  // The loopback device has no native XDP: mode=native names it and says why.
  auto native_lo = open("afxdp:lo?mode=native");
  ASSERT_FALSE(native_lo.ok());
  EXPECT_NE(native_lo.error().message.find("'lo'"), std::string::npos) << native_lo.error().describe();
  EXPECT_NE(native_lo.error().message.find("native"), std::string::npos) << native_lo.error().describe();

  // One afxdp port per interface: the second finds the first one's program.
  auto first = open("afxdp:" + name);
  ASSERT_TRUE(first.ok()) << first.error().describe();
  auto second = open("afxdp:" + name);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("already attached"), std::string::npos) << second.error().describe();
  first->reset();
  EXPECT_EQ(pool->get()->available(), pool->get()->capacity()) << "failed opens and a close leak no buffer";

  auto tiny_pool = mem::Mempool::create(net::default_packet_pool_config(128, "tiny"));
  ASSERT_TRUE(tiny_pool.ok());
  auto tiny = net::open_port("afxdp:" + name, net::PortOptions{tiny_pool->get(), 0});
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.error().message.find("128 buffers"), std::string::npos) << tiny.error().describe();
}

// The promise of the BPF link: a process killed with SIGKILL leaves no XDP
// program on the interface, and the next run opens the port normally.
TEST_F(AfxdpPortTest, KilledProcessLeavesNoProgramBehind) {
  const std::string name = veth_->end_a().name;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child: open the port, say so, wait to be killed.
    close(ready[0]);
    auto opened = open_in_namespace(veth_->namespace_a(), afxdp_spec(veth_->end_a(), ""), 0);
    const char status = opened.ok() ? '1' : '0';
    (void)!write(ready[1], &status, 1);
    for (;;) pause();
  }
  close(ready[1]);
  pollfd wait_for{ready[0], POLLIN, 0};
  char status = 0;
  ASSERT_EQ(poll(&wait_for, 1, 20'000), 1) << "the child did not open its port in time";
  ASSERT_EQ(read(ready[0], &status, 1), 1);
  close(ready[0]);
  EXPECT_EQ(status, '1') << "the child could not open the port";
  EXPECT_NE(xdp_program_on(veth_->namespace_a(), name), 0u) << "the child's program is attached";

  ASSERT_EQ(kill(child, SIGKILL), 0);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wait_status));
  // The kernel releases the link as the dying process's files close; the
  // final put may run from a workqueue, so allow it a moment.
  std::uint32_t left = 1;
  for (int attempt = 0; attempt < 200 && left != 0; ++attempt) {
    left = xdp_program_on(veth_->namespace_a(), name);
    if (left != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(left, 0u) << "a stale XDP program survived kill -9";
  // What `ip link show` prints ("xdp" / "xdpgeneric" lines when attached).
  const std::string shown = ip_link_show(veth_->namespace_a(), name);
  EXPECT_NE(shown.find(name), std::string::npos) << shown;
  EXPECT_EQ(shown.find("prog/xdp"), std::string::npos) << shown;

  // The next run works, frames included.
  OpenedPort a = open_a("");
  OpenedPort b = open_b("");
  ASSERT_TRUE(a.port && b.port);
  exchange(a, veth_->end_a(), b, veth_->end_b(), 100);
}

}  // namespace
}  // namespace aether::test
