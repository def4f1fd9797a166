// The pieces the kernel backends share to meet the port contract, without
// privileges: the readiness fd a worker sleeps on, the rx clock, and the
// multicast MAC mapping.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

#include <gtest/gtest.h>

#include "aether/net/link_membership.hpp"
#include "aether/net/readiness_fd.hpp"
#include "aether/net/rx_clock.hpp"

namespace aether::net {
namespace {

// A UDP socket on 127.0.0.1 with a kernel-chosen port.
struct LoopbackSocket {
  LoopbackSocket() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  }
  ~LoopbackSocket() { ::close(fd); }
  int fd = -1;
  sockaddr_in address{};
};

bool readable(int fd) {
  pollfd watched{fd, POLLIN, 0};
  return ::poll(&watched, 1, 0) > 0;
}

TEST(ReadinessFd, IsReadableWhileTheSocketIsAndAReadConsumesNothing) {
  LoopbackSocket receiver;
  LoopbackSocket sender;
  auto watched = ReadinessFd::watch(receiver.fd, "test socket");
  ASSERT_TRUE(watched.ok()) << watched.error().describe();
  EXPECT_FALSE(readable(watched->fd()));

  const char datagram[] = "x";
  ASSERT_EQ(::sendto(sender.fd, datagram, 1, 0, reinterpret_cast<sockaddr*>(&receiver.address),
                     sizeof receiver.address),
            1);
  pollfd wait{watched->fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&wait, 1, 5000), 1) << "the datagram must make the epoll fd readable";
  // What the worker does after waking: read 8 bytes. Nothing is consumed.
  std::uint64_t count = 0;
  EXPECT_EQ(::read(watched->fd(), &count, sizeof count), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_TRUE(readable(watched->fd())) << "level-triggered: still readable while the datagram waits";
  char buffer[8];
  EXPECT_EQ(::recv(receiver.fd, buffer, sizeof buffer, 0), 1) << "the datagram is still there";
  EXPECT_FALSE(readable(watched->fd()));
}

TEST(ReadinessFd, RefusesAnFdThatIsNotThereNamingIt) {
  auto watched = ReadinessFd::watch(-1, "port 'udp:x'");
  ASSERT_FALSE(watched.ok());
  EXPECT_NE(watched.error().message.find("port 'udp:x'"), std::string::npos);
}

TEST(RxClock, MapsTheWallClockOntoItsOwnScale) {
  const RxClock& clock = RxClock::process();
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  const std::uint64_t before = clock.now_ns();
  const std::uint64_t mapped =
      clock.from_realtime_ns(static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(now.tv_nsec));
  const std::uint64_t after = clock.now_ns();
  // Not a timing assertion: the scale is right to within 50 ms (it would be
  // off by decades if the wall clock were taken for TSC nanoseconds).
  constexpr std::uint64_t slack = 50'000'000;
  EXPECT_GE(mapped + slack, before);
  EXPECT_LE(mapped, after + slack);
  EXPECT_LE(before, after);
}

TEST(LinkMembership, MapsAGroupToItsMulticastMac) {
  const MacAddress mac = multicast_mac(::inet_addr("239.129.2.3"));  // the 24th bit is not mapped (RFC 1112)
  EXPECT_EQ(mac, (MacAddress{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}));
  EXPECT_TRUE(is_ipv4_multicast(::inet_addr("224.0.0.1")));
  EXPECT_TRUE(is_ipv4_multicast(::inet_addr("239.255.255.255")));
  EXPECT_FALSE(is_ipv4_multicast(::inet_addr("10.0.0.1")));
  EXPECT_FALSE(is_ipv4_multicast(::inet_addr("240.0.0.1")));
}

}  // namespace
}  // namespace aether::net
