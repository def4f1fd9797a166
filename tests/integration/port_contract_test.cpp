// The port contract (docs/runtime.md, "The port contract") on every backend
// this build runs here, through the checks of port_contract_checks.hpp:
// interrupt sleep, rx timestamps, xstats, multicast and receive mode.
//
// Each backend is opened in the mode that offers a receive interrupt:
// wait=block (udp, afpacket, afxdp, over a veth pair in throwaway
// namespaces: root only) and mode=interrupt (memif, two ports of this
// process: no privileges). udp binds 0.0.0.0 with interface= so that it can
// receive a group (a socket bound to a unicast address receives none).
// Multicast is real traffic: port b sends to 239.1.2.3 (for the L2
// backends a frame to 01:00:5e:01:02:03) and port a, having joined, gets it;
// the kernel's own view (/proc/net/dev_mcast, /proc/net/igmp in a's
// namespace) shows the membership come and go.
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "aether/net/link_membership.hpp"
#include "aether/net/rx_clock.hpp"
#include "port_contract_checks.hpp"
#include "port_test_support.hpp"

namespace aether::test {
namespace {

constexpr std::uint16_t udp_port = 9000;
const std::uint32_t group_be = ::inet_addr("239.1.2.3");

std::vector<std::string> contract_kinds() {
  std::vector<std::string> kinds;
  for (const auto& backend : net::describe_backends()) {
    if (backend.available && backend.kind != "vfio") kinds.emplace_back(backend.kind);
  }
  return kinds;
}

// The spec of a veth end in the mode with a receive interrupt.
std::string sleeping_spec(const std::string& kind, const net::VethEnd& end) {
  if (kind == "udp") return fmt::format("udp:0.0.0.0:{}?wait=block&interface={}", udp_port, end.name);
  return fmt::format("{}:{}?wait=block", kind, end.name);
}

// The kernel's text file `name` under /proc/net of the calling thread's
// network namespace (/proc/self would be the main thread's).
std::string proc_net(const std::string& name) {
  std::ifstream file("/proc/thread-self/net/" + name);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class PortContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memif") {
      open_memif_pair();
      return;
    }
    if (!running_as_root()) GTEST_SKIP() << "needs root: makes network namespaces and veth pairs";
    auto pair = open_port_pair([this](const net::VethEnd& end) { return sleeping_spec(GetParam(), end); },
                               GetParam() == "udp");
    ASSERT_TRUE(pair.ok()) << pair.error().describe();
    pair_ = std::move(*pair);
    end_a_ = pair_.veth->end_a();
    end_b_ = pair_.veth->end_b();
  }

  void open_memif_pair() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    end_a_ = {"server", {0x02, 0, 0, 0, 0, 0xa}, ::inet_addr("10.78.0.1"), "10.78.0.1"};
    end_b_ = {"client", {0x02, 0, 0, 0, 0, 0xb}, ::inet_addr("10.78.0.2"), "10.78.0.2"};
    auto pair = test::open_memif_pair(fmt::format("aether-contract-{}-{}", ::getpid(), test->name()), "&mode=interrupt");
    ASSERT_TRUE(pair.ok()) << pair.error().describe();
    pair_ = std::move(*pair);
  }

  [[nodiscard]] bool on_veth() const { return GetParam() != "memif"; }

  // Sends `count` frames from b to a, to a's address or to `to_group_be`.
  void send_b_to_a(unsigned count, std::uint32_t to_group_be = 0) {
    net::UdpEndpoint to = endpoint_of(end_a_, udp_port);
    if (to_group_be != 0) to = net::UdpEndpoint{net::multicast_mac(to_group_be), to_group_be, htons(udp_port)};
    std::vector<mem::Packet*> packets;
    for (unsigned i = 0; i < count; ++i) {
      mem::Packet* packet = make_udp_packet(*pair_.b.pool, endpoint_of(end_b_, udp_port), to, 64, i);
      ASSERT_NE(packet, nullptr);
      packets.push_back(packet);
    }
    ASSERT_EQ(send_all(pair_.b.port->queue(0), *pair_.b.pool, std::move(packets)), count);
  }

  // What a's network namespace says about the group on a's netdev: udp
  // joins at the IP layer (/proc/net/igmp lists the group as the raw __be32
  // in hex), L2 backends at the link layer (/proc/net/dev_mcast lists MACs).
  [[nodiscard]] bool kernel_shows_membership() {
    auto inside = net::ScopedNamespace::enter(pair_.veth->namespace_a());
    EXPECT_TRUE(inside.ok());
    if (GetParam() == "udp") return proc_net("igmp").find(fmt::format("{:08X}", group_be)) != std::string::npos;
    const auto mac = net::multicast_mac(group_be);
    const std::string text = fmt::format("{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", mac[0], mac[1], mac[2], mac[3],
                                         mac[4], mac[5]);
    std::istringstream lines(proc_net("dev_mcast"));
    for (std::string line; std::getline(lines, line);) {
      if (line.find(end_a_.name) != std::string::npos && line.find(text) != std::string::npos) return true;
    }
    return false;
  }

  // The netdev's promiscuity count (IFLA_PROMISCUITY of an RTM_GETLINK
  // answer, rtnetlink(7)) in a's namespace: SIOCGIFFLAGS shows only the
  // IFF_PROMISC a user set, not what packet sockets added.
  [[nodiscard]] unsigned netdev_promiscuity() {
    auto inside = net::ScopedNamespace::enter(pair_.veth->namespace_a());
    EXPECT_TRUE(inside.ok());
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    struct {
      nlmsghdr header;
      ifinfomsg link;
    } request{};
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = RTM_GETLINK;
    request.header.nlmsg_flags = NLM_F_REQUEST;
    request.link.ifi_family = AF_UNSPEC;
    request.link.ifi_index = static_cast<int>(::if_nametoindex(end_a_.name.c_str()));
    EXPECT_EQ(::send(fd, &request, sizeof request, 0), static_cast<ssize_t>(sizeof request)) << std::strerror(errno);
    alignas(nlmsghdr) std::array<char, 16384> answer{};
    const ssize_t got = ::recv(fd, answer.data(), answer.size(), 0);
    ::close(fd);
    unsigned promiscuity = ~0u;
    auto* header = reinterpret_cast<nlmsghdr*>(answer.data());
    if (got <= 0 || !NLMSG_OK(header, static_cast<unsigned>(got)) || header->nlmsg_type != RTM_NEWLINK) {
      ADD_FAILURE() << "no RTM_NEWLINK answer for " << end_a_.name;
      return promiscuity;
    }
    auto* link = static_cast<ifinfomsg*>(NLMSG_DATA(header));
    int length = static_cast<int>(IFLA_PAYLOAD(header));
    for (auto* attribute = IFLA_RTA(link); RTA_OK(attribute, length); attribute = RTA_NEXT(attribute, length)) {
      if (attribute->rta_type == IFLA_PROMISCUITY) std::memcpy(&promiscuity, RTA_DATA(attribute), sizeof promiscuity);
    }
    return promiscuity;
  }

  PortPair pair_;
  net::VethEnd end_a_;
  net::VethEnd end_b_;
};

TEST_P(PortContract, AnIdleWorkerSleepsAndWakesOnAFrameLosingNone) {
  contract::check_interrupt_sleep(pair_.a.port->queue(0), *pair_.a.pool, [this](unsigned count) {
    send_b_to_a(count);
  });
}

TEST_P(PortContract, StampsEveryFrameOnTheTscScale) {
  const auto& clock = net::RxClock::process();
  const std::uint64_t sent_ns = clock.now_ns();
  send_b_to_a(32);
  const std::size_t received = receive(pair_.a.port->queue(0), *pair_.a.pool, 32, [&](mem::Packet& packet) {
    contract::check_rx_timestamp(*pair_.a.port, packet, sent_ns, clock.now_ns());
  });
  EXPECT_EQ(received, 32u);
  EXPECT_EQ(pair_.a.port->rx_timestamp_source(),
            GetParam() == "udp" || GetParam() == "afpacket" ? net::RxTimestampSource::kernel
                                                            : net::RxTimestampSource::poll_time);
}

TEST_P(PortContract, CountsItsOwnThingsAsNamedPairs) {
  contract::check_xstats(*pair_.a.port);
  EXPECT_FALSE(pair_.a.port->xstats().empty()) << "every backend here has counters of its own";
  EXPECT_EQ(contract::xstat(*pair_.a.port, "multicast_groups"), 0u);
}

TEST_P(PortContract, ReceivesAJoinedMulticastGroupAndLeavesIt) {
  net::Port& port = *pair_.a.port;
  ASSERT_TRUE(port.join_multicast(group_be).ok());
  ASSERT_TRUE(port.join_multicast(group_be).ok()) << "joining twice is not an error";
  EXPECT_EQ(contract::xstat(port, "multicast_groups"), 1u);
  if (on_veth()) {
    EXPECT_TRUE(kernel_shows_membership());
  }

  send_b_to_a(16, group_be);
  std::size_t corrupt = 0;
  const std::size_t received = receive(port.queue(0), *pair_.a.pool, 16, [&](mem::Packet& packet) {
    net::FrameError error{};
    auto view = net::parse_udp_frame(std::span(packet.data(), packet.length()), error);
    std::uint32_t sequence = 0;
    if (!view || !payload_matches(view->payload, sequence)) ++corrupt;
    // L2 backends hand over the frame as sent, group address and all.
    if (view && GetParam() != "udp") {
      const std::uint32_t destination_be = view->ip->destination_be;  // a copy: the header is packed
      EXPECT_EQ(destination_be, group_be);
    }
  });
  EXPECT_EQ(received, 16u);
  EXPECT_EQ(corrupt, 0u);

  ASSERT_TRUE(port.leave_multicast(group_be).ok());
  EXPECT_EQ(contract::xstat(port, "multicast_groups"), 0u);
  if (on_veth()) {
    EXPECT_FALSE(kernel_shows_membership());
  }
  auto again = port.leave_multicast(group_be);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("239.1.2.3"), std::string::npos) << again.error().describe();
  auto unicast = port.join_multicast(end_b_.ip_be);
  ASSERT_FALSE(unicast.ok());
  EXPECT_NE(unicast.error().message.find("not an IPv4 multicast group"), std::string::npos)
      << unicast.error().describe();
}

TEST_P(PortContract, PromiscuousModeIsSetOnTheNetdevOrRefusedByName) {
  net::Port& port = *pair_.a.port;
  auto on = port.set_promiscuous(true);
  if (GetParam() == "udp") {
    ASSERT_FALSE(on.ok());
    EXPECT_NE(on.error().message.find("promiscuous"), std::string::npos) << on.error().describe();
    return;
  }
  ASSERT_TRUE(on.ok()) << on.error().describe();
  if (!on_veth()) return;  // memif: a point-to-point link receives everything already
  EXPECT_EQ(netdev_promiscuity(), 1u);
  EXPECT_EQ(contract::xstat(port, "promiscuous"), 1u);
  ASSERT_TRUE(port.set_promiscuous(false).ok());
  EXPECT_EQ(netdev_promiscuity(), 0u);
}

TEST_P(PortContract, ClosingThePortDropsItsMemberships) {
  if (!on_veth() || GetParam() == "udp") GTEST_SKIP() << "L2 memberships on a netdev";
  ASSERT_TRUE(pair_.a.port->join_multicast(group_be).ok());
  ASSERT_TRUE(pair_.a.port->set_promiscuous(true).ok());
  EXPECT_EQ(netdev_promiscuity(), 1u);
  pair_.a.port.reset();
  EXPECT_FALSE(kernel_shows_membership());
  EXPECT_EQ(netdev_promiscuity(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, PortContract, ::testing::ValuesIn(contract_kinds()),
                         [](const auto& test) { return test.param; });

}  // namespace
}  // namespace aether::test
