// The udp port over a real veth pair between two test-made namespaces:
// frames of every size, synthetic headers, counters, a plain kernel socket
// as the peer, and the errors a user can run into.
// Needs root (except the loopback test); skipped otherwise. No timing is
// asserted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "aether/net/frame.hpp"
#include "kernel_port_test_support.hpp"

namespace aether::test {
namespace {

using kernel_ports::free_one;
using kernel_ports::receive_one;

constexpr std::uint16_t kPort = 9000;
constexpr std::uint16_t kPlainPort = 9100;

// A plain blocking UDP socket bound inside a namespace: the kind of peer a
// udp port must interoperate with. Its receive timeout keeps a broken port
// from hanging the test.
class PlainSocket {
 public:
  PlainSocket(const net::NetworkNamespace& ns, std::uint32_t ip_be, std::uint16_t port) {
    auto inside = net::ScopedNamespace::enter(ns);
    EXPECT_TRUE(inside) << inside.error().describe();
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0) << std::strerror(errno);
    const timeval timeout{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    const sockaddr_in address = socket_address(ip_be, port);
    EXPECT_EQ(bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
  }
  ~PlainSocket() {
    if (fd_ >= 0) close(fd_);
  }
  PlainSocket(const PlainSocket&) = delete;
  PlainSocket& operator=(const PlainSocket&) = delete;

  static sockaddr_in socket_address(std::uint32_t ip_be, std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = ip_be;
    address.sin_port = htons(port);
    return address;
  }

  // Sends `size` bytes of payload pattern `sequence`.
  void send_to(std::uint32_t ip_be, std::uint16_t port, std::size_t size, std::uint32_t sequence) const {
    std::vector<std::byte> payload(size);
    fill_payload(payload.data(), size, sequence);
    const sockaddr_in to = socket_address(ip_be, port);
    EXPECT_EQ(sendto(fd_, payload.data(), size, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(size))
        << std::strerror(errno);
  }

  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

class UdpPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!running_as_root()) GTEST_SKIP() << "needs root: makes network namespaces and a veth pair";
  }

  // Opens udp:IP:9000 on both ends of a fresh veth pair.
  void open(const std::string& parameters = "") {
    auto opened = kernel_ports::reopen_port_pair(
        pair_, [&](const net::VethEnd& end) { return fmt::format("udp:{}:{}{}", end.ip, kPort, parameters); });
    ASSERT_TRUE(opened) << opened.error().describe();
  }

  net::Queue& queue_a() { return pair_.a.port->queue(0); }
  net::Queue& queue_b() { return pair_.b.port->queue(0); }
  const net::VethEnd& end_a() { return pair_.veth->end_a(); }
  const net::VethEnd& end_b() { return pair_.veth->end_b(); }

  // A UDP frame of exactly `frame_size` bytes from A to B.
  mem::Packet* frame_a_to_b(std::size_t frame_size, std::uint32_t sequence) {
    mem::Packet* packet = make_udp_packet(*pair_.a.pool, endpoint_of(end_a(), kPort), endpoint_of(end_b(), kPort),
                                          frame_size - net::udp_frame_header_size, sequence);
    EXPECT_NE(packet, nullptr);
    return packet;
  }

  PortPair pair_;
};

TEST_F(UdpPortTest, DescribesItself) {
  ASSERT_NO_FATAL_FAILURE(open());
  const net::PortInfo& info = pair_.a.port->info();
  EXPECT_EQ(info.kind, "udp");
  EXPECT_EQ(info.interface, fmt::format("{}:{}", end_a().ip, kPort));
  EXPECT_EQ(info.mode, "spin, recvmmsg/sendmmsg batch 32");
  EXPECT_EQ(info.queue_count, 1u);
  EXPECT_EQ(info.mac, net::MacAddress{});
  EXPECT_EQ(info.mtu, 1500u);
  EXPECT_EQ(pair_.a.port->link_state(), net::LinkState::up);
  EXPECT_TRUE(info.notes.empty());
}

TEST_F(UdpPortTest, CarriesEveryFrameSizeWithSyntheticHeaders) {
  ASSERT_NO_FATAL_FAILURE(open());
  const auto& sizes = kernel_ports::frame_sizes();
  std::vector<mem::Packet*> frames;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    frames.push_back(frame_a_to_b(sizes[i], static_cast<std::uint32_t>(i)));
    bytes += sizes[i];
  }
  ASSERT_EQ(send_all(queue_a(), *pair_.a.pool, frames), sizes.size());

  std::size_t next = 0;  // one socket pair over one veth: order is kept
  const std::size_t received = receive(queue_b(), *pair_.b.pool, sizes.size(), [&](mem::Packet& packet) {
    const std::size_t i = next++;
    SCOPED_TRACE(fmt::format("frame {} of {} bytes", i, sizes[i]));
    EXPECT_EQ(packet.length(), sizes[i]);
    EXPECT_EQ(packet.port, 1);  // port_id given by open_port_pair
    net::FrameError error{};
    auto view = net::parse_udp_frame({packet.data(), packet.length()}, error);
    ASSERT_TRUE(view) << net::to_string(error);  // also checks the IPv4 header checksum
    EXPECT_EQ(view->ethernet->source, net::MacAddress{});
    EXPECT_EQ(view->ethernet->destination, net::MacAddress{});
    EXPECT_EQ(view->ip->source_be, end_a().ip_be);
    EXPECT_EQ(view->ip->destination_be, end_b().ip_be);
    EXPECT_EQ(ntohs(view->udp->source_port_be), kPort);
    EXPECT_EQ(ntohs(view->udp->destination_port_be), kPort);
    std::uint32_t sequence = 0;
    EXPECT_TRUE(payload_matches(view->payload, sequence));
    EXPECT_EQ(sequence, i);
    EXPECT_EQ(view->payload.size(), sizes[i] - net::udp_frame_header_size);
  });
  EXPECT_EQ(received, sizes.size());

  const net::QueueStats sent = pair_.a.port->stats();
  EXPECT_EQ(sent.tx_packets, sizes.size());
  EXPECT_EQ(sent.tx_bytes, bytes);  // frame bytes, as rx counts them
  EXPECT_EQ(sent.tx_drops(), 0u);
  const net::QueueStats got = pair_.b.port->stats();
  EXPECT_EQ(got.rx_packets, sizes.size());
  EXPECT_EQ(got.rx_bytes, bytes);
  EXPECT_EQ(got.rx_drops(), 0u);
}

TEST_F(UdpPortTest, NonUdpFramesAreTakenAndCountedBad) {
  ASSERT_NO_FATAL_FAILURE(open());
  mem::Packet* arp = frame_a_to_b(60, 0);
  reinterpret_cast<net::EthernetHeader*>(arp->data())->ether_type_be = htons(net::ether_type_arp);
  mem::Packet* tcp = frame_a_to_b(80, 1);
  reinterpret_cast<net::Ipv4Header*>(tcp->data() + sizeof(net::EthernetHeader))->protocol = 6;  // TCP
  mem::Packet* good = frame_a_to_b(100, 2);
  kernel_ports::expect_bad_frames_taken(*pair_.a.port, queue_b(), {arp, tcp, good}, 2, 100);
}

TEST_F(UdpPortTest, InteroperatesWithAPlainKernelSocket) {
  ASSERT_NO_FATAL_FAILURE(open());
  PlainSocket plain(pair_.veth->namespace_b(), end_b().ip_be, kPlainPort);
  plain.send_to(end_a().ip_be, kPort, 300, 7);

  mem::Packet* received = receive_one(queue_a());
  ASSERT_NE(received, nullptr);
  net::FrameError error{};
  auto view = net::parse_udp_frame({received->data(), received->length()}, error);
  ASSERT_TRUE(view) << net::to_string(error);
  EXPECT_EQ(view->ip->source_be, end_b().ip_be);
  EXPECT_EQ(ntohs(view->udp->source_port_be), kPlainPort);
  EXPECT_EQ(view->ip->destination_be, end_a().ip_be);
  EXPECT_EQ(ntohs(view->udp->destination_port_be), kPort);
  std::uint32_t sequence = 0;
  EXPECT_TRUE(payload_matches(view->payload, sequence));
  EXPECT_EQ(sequence, 7u);

  // Echo it back the way `aether echo` does.
  net::swap_for_echo(*view);
  ASSERT_EQ(queue_a().tx_burst({&received, 1}), 1u);
  std::vector<std::byte> reply(2000);
  sockaddr_in from{};
  socklen_t from_length = sizeof from;
  const ssize_t got =
      recvfrom(plain.fd(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_length);
  ASSERT_EQ(got, 300) << std::strerror(errno);
  EXPECT_TRUE(payload_matches({reply.data(), 300}, sequence));
  EXPECT_EQ(sequence, 7u);
  EXPECT_EQ(from.sin_addr.s_addr, end_a().ip_be);
  EXPECT_EQ(ntohs(from.sin_port), kPort);
}

TEST_F(UdpPortTest, BlockingWaitReceivesToo) {
  ASSERT_NO_FATAL_FAILURE(open("?wait=block&batch=8"));
  EXPECT_EQ(pair_.a.port->info().mode, "block (the worker sleeps on the socket), recvmmsg/sendmmsg batch 8");
  EXPECT_GE(queue_a().rx_interrupt_fd(), 0) << "wait=block sleeps through the queue's interrupt fd";
  std::array<mem::Packet*, 8> burst{};
  EXPECT_EQ(queue_a().rx_burst(burst), 0u);  // nothing there: returns at once, never blocks
  PlainSocket plain(pair_.veth->namespace_b(), end_b().ip_be, kPlainPort);
  for (std::uint32_t i = 0; i < 20; ++i) plain.send_to(end_a().ip_be, kPort, 64, i);
  EXPECT_EQ(receive(queue_a(), *pair_.a.pool, 20, [](mem::Packet&) {}), 20u);
}

TEST_F(UdpPortTest, BusyPollIsAppliedOrReported) {
  ASSERT_NO_FATAL_FAILURE(open("?busy_poll=50"));
  const auto& info = pair_.a.port->info();
  const bool applied = info.mode.find("SO_BUSY_POLL 50 us") != std::string::npos;
  bool reported = false;
  for (const auto& note : info.notes) reported = reported || note.find("SO_BUSY_POLL=50 refused") != std::string::npos;
  EXPECT_TRUE(applied != reported) << info.mode;
}

TEST_F(UdpPortTest, OversizedDatagramsAreCountedTruncated) {
  ASSERT_NO_FATAL_FAILURE(open());
  PlainSocket plain(pair_.veth->namespace_b(), end_b().ip_be, kPlainPort);
  // Longer than a buffer's data room: IP fragments it, A's kernel reassembles it.
  plain.send_to(end_a().ip_be, kPort, pair_.a.pool->data_room() + 1000, 1);
  plain.send_to(end_a().ip_be, kPort, 200, 2);
  mem::Packet* received = receive_one(queue_a());
  ASSERT_NE(received, nullptr);
  EXPECT_EQ(received->length(), 200 + net::udp_frame_header_size);
  free_one(received);
  EXPECT_EQ(pair_.a.port->stats().rx_drop_truncated, 1u);
}

TEST_F(UdpPortTest, KernelDropsAreCountedFromSoRxqOvfl) {
  ASSERT_NO_FATAL_FAILURE(open());
  PlainSocket plain(pair_.veth->namespace_b(), end_b().ip_be, kPlainPort);
  // Far more than the default receive buffer (net.core.rmem_default) holds.
  constexpr std::size_t sent = 4000;
  for (std::uint32_t i = 0; i < sent; ++i) plain.send_to(end_a().ip_be, kPort, 64, i);
  std::size_t received = receive(
      queue_a(), *pair_.a.pool, sent, [](mem::Packet&) {}, nullptr, std::chrono::milliseconds(500));
  EXPECT_LT(received, sent);
  // The kernel attaches its drop count to datagrams queued after the drops
  // (net/core/sock.c, sock_recv_drops): one more brings the news.
  plain.send_to(end_a().ip_be, kPort, 64, sent);
  received += receive(queue_a(), *pair_.a.pool, 1, [](mem::Packet&) {});
  const net::QueueStats stats = pair_.a.port->stats();
  EXPECT_GT(stats.rx_drop_kernel, 0u);
  EXPECT_EQ(stats.rx_packets, received);
  EXPECT_EQ(stats.rx_packets + stats.rx_drop_kernel, sent + 1);
}

TEST_F(UdpPortTest, PortZeroLetsTheKernelChoose) {
  ASSERT_NO_FATAL_FAILURE(open());
  auto chosen = open_in_namespace(pair_.veth->namespace_a(), fmt::format("udp:{}:0", end_a().ip), 5);
  ASSERT_TRUE(chosen) << chosen.error().describe();
  const std::string& interface = chosen->port->info().interface;
  EXPECT_NE(interface, fmt::format("{}:0", end_a().ip));
  EXPECT_EQ(interface.rfind(end_a().ip + ":", 0), 0u) << interface;
}

TEST_F(UdpPortTest, BindErrorsNameTheAddress) {
  ASSERT_NO_FATAL_FAILURE(open());
  auto foreign = open_in_namespace(pair_.veth->namespace_a(), "udp:10.99.0.1:9000", 5);
  ASSERT_FALSE(foreign);
  EXPECT_NE(foreign.error().message.find("10.99.0.1 is not an address of this host"), std::string::npos)
      << foreign.error().message;
  auto taken = open_in_namespace(pair_.veth->namespace_a(), fmt::format("udp:{}:{}", end_a().ip, kPort), 5);
  ASSERT_FALSE(taken);
  EXPECT_NE(taken.error().message.find("already in use"), std::string::npos) << taken.error().message;
}

TEST_F(UdpPortTest, PingPongRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(open());
  const auto from = endpoint_of(end_a(), kPort);
  const auto to = endpoint_of(end_b(), kPort);
  auto trips = kernel_ports::ping_pong(
      queue_a(), *pair_.a.pool, queue_b(), 2000,
      [&](mem::Packet& packet) {
        const std::size_t length = net::write_udp_headers({packet.data(), packet.tailroom()}, from, to, 22);
        EXPECT_TRUE(packet.set_length(static_cast<std::uint16_t>(length)));
      },
      [](mem::Packet& packet) {
        net::FrameError error{};
        auto view = net::parse_udp_frame({packet.data(), packet.length()}, error);
        if (view) net::swap_for_echo(*view);
      });
  EXPECT_EQ(trips.lost, 0u);
  // For the record only: one thread drives both ends, so this is not a benchmark.
  trips.print("udp ping-pong over veth, 64-byte frames");
}

// Two ports on 127.0.0.1 in the test's own namespace: needs no privilege.
TEST(UdpLoopback, CarriesAFrameAndItsEcho) {
  auto pool = mem::Mempool::create(net::default_packet_pool_config(256, "udp-loopback"));
  ASSERT_TRUE(pool) << pool.error().describe();
  auto a = net::open_port("udp:127.0.0.1:0", net::PortOptions{pool->get(), 0});
  ASSERT_TRUE(a) << a.error().describe();
  auto b = net::open_port("udp:127.0.0.1:0?batch=4", net::PortOptions{pool->get(), 1});
  ASSERT_TRUE(b) << b.error().describe();
  auto endpoint = [](const net::Port& port) {
    const std::string& where = port.info().interface;  // "127.0.0.1:PORT"
    net::UdpEndpoint end;
    end.ip_be = *net::parse_ipv4_be("127.0.0.1");
    end.port_be = htons(static_cast<std::uint16_t>(std::stoi(where.substr(where.rfind(':') + 1))));
    return end;
  };
  const net::UdpEndpoint from = endpoint(**a);
  const net::UdpEndpoint to = endpoint(**b);
  EXPECT_EQ((*a)->info().mac, net::MacAddress{});

  mem::Packet* packet = nullptr;
  ASSERT_EQ((*pool)->alloc_bulk({&packet, 1}), 1u);
  const std::size_t length = net::write_udp_headers({packet->data(), packet->tailroom()}, from, to, 5);
  std::memcpy(packet->data() + net::udp_frame_header_size, "hello", 5);
  ASSERT_TRUE(packet->set_length(static_cast<std::uint16_t>(length)));
  ASSERT_EQ((*a)->queue(0).tx_burst({&packet, 1}), 1u);

  mem::Packet* request = receive_one((*b)->queue(0));
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->length(), net::min_ethernet_frame);  // 47 bytes, padded as on a wire
  EXPECT_EQ(request->port, 1);
  net::FrameError error{};
  auto view = net::parse_udp_frame({request->data(), request->length()}, error);
  ASSERT_TRUE(view) << net::to_string(error);
  ASSERT_EQ(view->payload.size(), 5u);
  EXPECT_EQ(std::memcmp(view->payload.data(), "hello", 5), 0);
  EXPECT_EQ(view->udp->source_port_be, from.port_be);
  EXPECT_EQ(view->udp->destination_port_be, to.port_be);

  net::swap_for_echo(*view);
  ASSERT_EQ((*b)->queue(0).tx_burst({&request, 1}), 1u);
  mem::Packet* reply = receive_one((*a)->queue(0));
  ASSERT_NE(reply, nullptr);
  (*pool)->free_bulk({&reply, 1});

  EXPECT_EQ((*a)->stats().tx_packets, 1u);
  EXPECT_EQ((*a)->stats().rx_packets, 1u);
  EXPECT_EQ((*b)->stats().rx_packets, 1u);
  EXPECT_EQ((*b)->stats().tx_packets, 1u);
  a->reset();
  b->reset();
  EXPECT_EQ((*pool)->available(), (*pool)->capacity());
}

}  // namespace
}  // namespace aether::test
