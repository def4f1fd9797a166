// memif ports end to end, Aether server against Aether client over a real
// unix socket and shared memory: frames of every size both ways, chains,
// several queue pairs, interrupt mode, and restarts of either side. Needs
// no privileges.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <fstream>

#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "memif_test_support.hpp"
#include "../../integration/port_test_support.hpp"

namespace aether::test {
namespace {

const net::UdpEndpoint kClientEndpoint{net::MacAddress{{0x02, 0, 0, 0, 0, 1}}, htonl(0x0a4d0001), htons(9000)};
const net::UdpEndpoint kServerEndpoint{net::MacAddress{{0x02, 0, 0, 0, 0, 2}}, htonl(0x0a4d0002), htons(9000)};

struct Pair {
  std::unique_ptr<TempDirectory> directory = std::make_unique<TempDirectory>();
  MemifEnd server;
  MemifEnd client;
  std::string server_spec;
  std::string client_spec;
};

// A server and a client on one socket, both up.
Pair open_pair(const std::string& server_query, const std::string& client_query,
               const std::string& socket_override = "") {
  Pair pair;
  const std::string socket = socket_override.empty() ? pair.directory->socket() : socket_override;
  pair.server_spec = "memif:" + socket + "?role=server" + server_query;
  pair.client_spec = "memif:" + socket + "?role=client&retry_ms=20" + client_query;
  auto server = open_memif(pair.server_spec, 1);
  EXPECT_TRUE(server.ok()) << server.error().describe();
  if (!server) return pair;
  pair.server = std::move(*server);
  auto client = open_memif(pair.client_spec, 2);
  EXPECT_TRUE(client.ok()) << client.error().describe();
  if (!client) return pair;
  pair.client = std::move(*client);
  EXPECT_TRUE(pair.client.memif().wait_until_up(kLinkTimeout)) << pair.client.memif().connection_status().last_disconnect_reason;
  EXPECT_TRUE(pair.server.memif().wait_until_up(kLinkTimeout));
  return pair;
}

// UDP payload sizes for frames of 60 to 1518 bytes (and beyond with `jumbo`).
std::size_t payload_for(std::size_t i, std::size_t largest_frame) {
  const std::size_t smallest = 18;
  return smallest + (i * 97) % (largest_frame - net::udp_frame_header_size - smallest + 1);
}

// Sends `count` frames from `from` to `to` on queue `queue`, checks that each
// arrives once and intact, and that both ports counted them.
void exchange(MemifEnd& from, MemifEnd& to, std::size_t count, std::size_t largest_frame = 1518, unsigned queue = 0) {
  const auto from_before = from.port->stats();
  const auto to_before = to.port->stats();
  std::vector<mem::Packet*> packets;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < count; ++i) {
    mem::Packet* packet = make_udp_packet(*from.pool, kClientEndpoint, kServerEndpoint, payload_for(i, largest_frame),
                                          static_cast<std::uint32_t>(i));
    ASSERT_NE(packet, nullptr);
    bytes += packet->packet_length;
    packets.push_back(packet);
  }
  std::vector<int> seen(count, 0);
  std::size_t corrupt = 0;
  std::size_t received = 0;
  std::size_t sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::array<mem::Packet*, 32> burst{};
  while (received < count && std::chrono::steady_clock::now() < deadline) {
    if (sent < count) sent += from.queue(queue).tx_burst(std::span(packets).subspan(sent, std::min<std::size_t>(32, count - sent)));
    const unsigned n = to.queue(queue).rx_burst(burst);
    for (unsigned k = 0; k < n; ++k) {
      std::vector<std::byte> flat;
      for (const mem::Packet* s = burst[k]; s != nullptr; s = s->next) flat.insert(flat.end(), s->data(), s->data() + s->length());
      std::uint32_t sequence = 0;
      if (flat.size() < net::udp_frame_header_size ||
          !payload_matches(std::span(flat).subspan(net::udp_frame_header_size), sequence) || sequence >= count ||
          flat.size() != burst[k]->packet_length) {
        ++corrupt;
      } else {
        ++seen[sequence];
      }
    }
    to.pool->free_bulk(std::span(burst.data(), n));
    received += n;
  }
  EXPECT_EQ(sent, count);
  EXPECT_EQ(received, count);
  EXPECT_EQ(corrupt, 0u);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<long>(count)) << "each frame exactly once";
  const auto from_after = from.port->stats();
  const auto to_after = to.port->stats();
  EXPECT_EQ(from_after.tx_packets - from_before.tx_packets, count);
  EXPECT_EQ(from_after.tx_bytes - from_before.tx_bytes, bytes);
  EXPECT_EQ(to_after.rx_packets - to_before.rx_packets, count);
  EXPECT_EQ(to_after.rx_bytes - to_before.rx_bytes, bytes);
  EXPECT_EQ(to_after.rx_drops(), to_before.rx_drops());
  EXPECT_EQ(from_after.tx_drops(), from_before.tx_drops());
}

TEST(MemifPort, ZeroCopyClientAndServerExchangeFramesOfEverySize) {
  Pair pair = open_pair("", "");
  ASSERT_TRUE(pair.client.port);
  EXPECT_NE(pair.client.port->info().mode.find("zero copy"), std::string::npos) << pair.client.port->info().mode;
  EXPECT_EQ(pair.client.port->link_state(), net::LinkState::up);
  exchange(pair.client, pair.server, 3000);
  exchange(pair.server, pair.client, 3000);
  const auto status = pair.client.memif().connection_status();
  EXPECT_EQ(status.connections, 1u);
  EXPECT_EQ(status.log2_ring_size, 10u);
  EXPECT_EQ(status.rx_rings, 1u);
  EXPECT_EQ(pair.server.memif().connection_status().peer_name, fmt::format("aether-{}", ::getpid()));
}

TEST(MemifPort, CopyClientChainsFramesOverSmallMemifBuffers) {
  Pair pair = open_pair("&rsize=8", "&zero_copy=0&bsize=256&rsize=8");
  ASSERT_TRUE(pair.client.port);
  exchange(pair.client, pair.server, 3000);
  exchange(pair.server, pair.client, 3000);
}

TEST(MemifPort, ChainedJumboFramesCrossInBothRoles) {
  Pair pair = open_pair("", "");
  ASSERT_TRUE(pair.client.port);
  for (MemifEnd* from : {&pair.client, &pair.server}) {
    MemifEnd& to = from == &pair.client ? pair.server : pair.client;
    // 9000 bytes over three segments of the sender's pool.
    std::vector<mem::Packet*> segments(3);
    ASSERT_EQ(from->pool->alloc_bulk(segments), 3u);
    for (unsigned s = 0; s < 3; ++s) {
      ASSERT_TRUE(segments[s]->set_length(3000));
      for (unsigned i = 0; i < 3000; ++i) segments[s]->data()[i] = std::byte((s * 3000 + i) % 251);
      if (s > 0) segments[s - 1]->next = segments[s];
    }
    segments[0]->packet_length = 9000;
    mem::Packet* jumbo = segments[0];
    ASSERT_EQ(from->queue().tx_burst({&jumbo, 1}), 1u);
    std::vector<std::byte> flat;
    const std::size_t got = receive(to.queue(), *to.pool, 1, [&](mem::Packet& packet) {
      EXPECT_EQ(packet.packet_length, 9000u);
      for (const mem::Packet* s = &packet; s != nullptr; s = s->next) flat.insert(flat.end(), s->data(), s->data() + s->length());
    });
    ASSERT_EQ(got, 1u);
    ASSERT_EQ(flat.size(), 9000u);
    for (unsigned i = 0; i < 9000; ++i) ASSERT_EQ(flat[i], std::byte(i % 251)) << "byte " << i;
  }
}

TEST(MemifPort, EveryQueuePairCarriesItsOwnTraffic) {
  Pair pair = open_pair("&queues=3", "&queues=3");
  ASSERT_TRUE(pair.client.port);
  EXPECT_EQ(pair.client.memif().connection_status().tx_rings, 3u);
  for (unsigned q = 0; q < 3; ++q) {
    exchange(pair.client, pair.server, 500, 1518, q);
    exchange(pair.server, pair.client, 500, 1518, q);
  }
}

TEST(MemifPort, FewerRingsThanQueuesLeaveTheRestDown) {
  Pair pair = open_pair("&queues=1", "&queues=2");  // the server accepts one ring per direction
  ASSERT_TRUE(pair.client.port);
  EXPECT_EQ(pair.client.memif().connection_status().tx_rings, 1u);
  exchange(pair.client, pair.server, 100);
  mem::Packet* packet = make_udp_packet(*pair.client.pool, kClientEndpoint, kServerEndpoint, 18, 0);
  EXPECT_EQ(pair.client.queue(1).tx_burst({&packet, 1}), 1u);
  EXPECT_EQ(pair.client.memif().memif_counters(1).tx_link_down, 1u);
}

// What a sleeping worker does (dataplane::Worker): poll(2) on the queue's
// interrupt fd, then turn interrupts off, which consumes the wake-up.
bool wait_for_rx(net::Queue& queue, int timeout_ms) {
  pollfd watched{queue.rx_interrupt_fd(), POLLIN, 0};
  const bool woke = ::poll(&watched, 1, timeout_ms) > 0;
  queue.set_rx_interrupt(false);
  return woke;
}

TEST(MemifPort, InterruptModeWakesTheReceiver) {
  Pair pair = open_pair("&mode=interrupt", "&mode=interrupt");
  ASSERT_TRUE(pair.client.port);
  EXPECT_GE(pair.server.queue().rx_interrupt_fd(), 0);
  EXPECT_FALSE(wait_for_rx(pair.server.queue(), 20)) << "nothing sent yet";
  for (MemifEnd* from : {&pair.client, &pair.server}) {
    MemifEnd& to = from == &pair.client ? pair.server : pair.client;
    (void)to.queue().rx_burst({});  // a client offers its buffers on its first rx_burst
    std::thread sender([from] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      mem::Packet* packet = make_udp_packet(*from->pool, kClientEndpoint, kServerEndpoint, 100, 7);
      EXPECT_EQ(from->queue().tx_burst({&packet, 1}), 1u);
    });
    EXPECT_TRUE(wait_for_rx(to.queue(), 5000));
    sender.join();
    EXPECT_EQ(receive(to.queue(), *to.pool, 1, [](mem::Packet&) {}), 1u);
    EXPECT_TRUE(eventually([from] { return from->memif().memif_counters(0).interrupts_sent >= 1; }));
  }
}

TEST(MemifPort, PollingModeSendsNoInterrupts) {
  Pair pair = open_pair("", "");
  ASSERT_TRUE(pair.client.port);
  EXPECT_EQ(pair.client.queue().rx_interrupt_fd(), -1);
  exchange(pair.client, pair.server, 200);
  exchange(pair.server, pair.client, 200);
  EXPECT_EQ(pair.client.memif().memif_counters(0).interrupts_sent, 0u);
  EXPECT_EQ(pair.server.memif().memif_counters(0).interrupts_sent, 0u);
}

TEST(MemifPort, ClientReconnectsAfterTheServerRestartsAndCountsWhatWasLost) {
  Pair pair = open_pair("", "");
  ASSERT_TRUE(pair.client.port);
  exchange(pair.client, pair.server, 100);
  // Frames the server never reads, then the server goes away.
  std::vector<mem::Packet*> stranded;
  for (std::uint32_t i = 0; i < 10; ++i) {
    stranded.push_back(make_udp_packet(*pair.client.pool, kClientEndpoint, kServerEndpoint, 100, i));
  }
  ASSERT_EQ(pair.client.queue().tx_burst(stranded), 10u);
  pair.server.close();
  ASSERT_TRUE(pair.client.memif().wait_until_down(kLinkTimeout));
  EXPECT_EQ(pair.client.port->link_state(), net::LinkState::down);
  (void)pair.client.queue().tx_burst({});  // the queue lets go of the link, and counts, at its next burst
  EXPECT_EQ(pair.client.memif().memif_counters(0).tx_lost_on_disconnect, 10u);
  const auto status = pair.client.memif().connection_status();
  EXPECT_TRUE(status.last_disconnect_by_peer);
  EXPECT_EQ(status.last_disconnect_reason, "Interface closed");
  // While down, tx takes and drops (a NIC without link).
  mem::Packet* while_down = make_udp_packet(*pair.client.pool, kClientEndpoint, kServerEndpoint, 100, 0);
  EXPECT_EQ(pair.client.queue().tx_burst({&while_down, 1}), 1u);
  EXPECT_EQ(pair.client.memif().memif_counters(0).tx_link_down, 1u);
  // The server comes back on the same socket: the client finds it.
  ASSERT_TRUE(reopen_memif(pair.server_spec, pair.server, 1).ok());
  ASSERT_TRUE(pair.client.memif().wait_until_up(kLinkTimeout));
  EXPECT_EQ(pair.client.memif().connection_status().connections, 2u);
  exchange(pair.client, pair.server, 1000);
  exchange(pair.server, pair.client, 1000);
  pair.client.close();
  pair.server.close();
}

TEST(MemifPort, ServerAcceptsANewClientAfterTheFirstLeaves) {
  Pair pair = open_pair("", "");
  ASSERT_TRUE(pair.client.port);
  exchange(pair.server, pair.client, 100);
  pair.client.close();
  ASSERT_TRUE(pair.server.memif().wait_until_down(kLinkTimeout));
  EXPECT_EQ(pair.server.memif().connection_status().last_disconnect_reason, "Interface closed");
  ASSERT_TRUE(reopen_memif(pair.client_spec, pair.client, 2).ok());
  ASSERT_TRUE(pair.server.memif().wait_until_up(kLinkTimeout));
  EXPECT_EQ(pair.server.memif().connection_status().connections, 2u);
  exchange(pair.server, pair.client, 1000);
  exchange(pair.client, pair.server, 1000);
}

TEST(MemifPort, ASecondClientIsToldTheServerIsTaken) {
  Pair pair = open_pair("", "");
  ASSERT_TRUE(pair.client.port);
  auto second = open_memif(pair.client_spec, 3);
  ASSERT_TRUE(second.ok());
  const auto deadline = std::chrono::steady_clock::now() + kLinkTimeout;
  while (second->memif().connection_status().last_disconnect_reason.empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(second->memif().connection_status().last_disconnect_reason, "Already connected");
  EXPECT_EQ(second->port->link_state(), net::LinkState::down);
  exchange(pair.client, pair.server, 100);  // the first is undisturbed
}

TEST(MemifPort, ServerRefusesAWrongIdOrSecret) {
  TempDirectory directory;
  auto server = open_memif("memif:" + directory.socket() + "?role=server&id=5&secret=hunter2", 1);
  ASSERT_TRUE(server.ok()) << server.error().describe();
  struct Case {
    std::string query;
    std::string reason;
  };
  for (const Case& c : {Case{"&id=4&secret=hunter2", "ID 4 not found"}, Case{"&id=5", "Secret required"},
                        Case{"&id=5&secret=hunter3", "Incorrect secret"}}) {
    auto client = open_memif("memif:" + directory.socket() + "?retry_ms=1000" + c.query, 2);
    ASSERT_TRUE(client.ok());
    const auto deadline = std::chrono::steady_clock::now() + kLinkTimeout;
    while (client->memif().connection_status().disconnects == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const auto status = client->memif().connection_status();
    EXPECT_EQ(status.last_disconnect_reason, c.reason);
    EXPECT_TRUE(status.last_disconnect_by_peer);
    EXPECT_FALSE(status.connected);
  }
  auto client = open_memif("memif:" + directory.socket() + "?id=5&secret=hunter2", 2);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(client->memif().wait_until_up(kLinkTimeout));
}

TEST(MemifPort, AbstractSocketsWork) {
  const std::string name = fmt::format("@aether-memif-test-{}", ::getpid());
  Pair pair = open_pair("", "", name);
  ASSERT_TRUE(pair.client.port);
  EXPECT_EQ(pair.client.port->info().interface, name);
  exchange(pair.client, pair.server, 100);
}

TEST(MemifPort, SpecErrorsNameTheKeyAndTheLimit) {
  TempDirectory directory;
  const std::string socket = "memif:" + directory.socket();
  const std::string not_a_directory = directory.path() + "/file";
  { std::ofstream(not_a_directory) << "x"; }
  struct Case {
    std::string spec;
    std::string expected;
  };
  for (const Case& c : {Case{socket + "?colour=red", "colour"}, Case{socket + "?rsize=15", "rsize"},
                        Case{socket + "?bsize=64", "bsize"}, Case{socket + "?role=master", "role"},
                        Case{socket + "?role=server&zero_copy=1", "zero_copy=1 needs role=client"},
                        Case{socket + "?secret=123456789012345678901234", "secret"},
                        Case{"memif:@", "socket"},
                        Case{"memif:" + std::string(120, 'x'), "socket"},
                        Case{socket + "?allow=user:3", "allow entry 'user:3' is not uid:N or gid:N"},
                        Case{socket + "?allow=uid:0+gid:", "allow entry 'gid:'"},
                        Case{"memif:" + not_a_directory + "/x.sock?role=server", not_a_directory + "/x.sock"}}) {
    auto end = open_memif(c.spec, 1, 64);
    ASSERT_FALSE(end.ok()) << c.spec;
    EXPECT_NE(end.error().describe().find(c.expected), std::string::npos) << end.error().describe();
  }
}

TEST(MemifPort, ServerRefusesASocketPathALiveServerHolds) {
  TempDirectory directory;
  auto first = open_memif("memif:" + directory.socket() + "?role=server", 1, 64);
  ASSERT_TRUE(first.ok());
  auto second = open_memif("memif:" + directory.socket() + "?role=server", 2, 64);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().describe().find("in use"), std::string::npos) << second.error().describe();
  // A stale file (its server gone without cleaning up) is replaced.
  first->close();
  ASSERT_TRUE(std::filesystem::exists(directory.socket()) == false) << "a closing server removes its socket file";
}

// Issue 13, item 8: the probe-then-unlink of a stale socket file raced a
// server starting at the same time. Servers now hold PATH.lock while they
// listen: a path whose lock is held is never unlinked, even when the file
// there looks stale.
TEST(MemifPort, ASocketPathWhoseServerIsAliveIsNeverUnlinked) {
  TempDirectory directory;
  auto first = open_memif("memif:" + directory.socket() + "?role=server", 1, 64);
  ASSERT_TRUE(first.ok());
  // The file at the path now looks stale: a socket nobody listens on.
  ASSERT_EQ(::unlink(directory.socket().c_str()), 0);
  {
    const int stale = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, directory.socket().data(), directory.socket().size());
    ASSERT_EQ(::bind(stale, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ::close(stale);
  }
  auto second = open_memif("memif:" + directory.socket() + "?role=server", 2, 64);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().describe().find("in use (another server holds"), std::string::npos)
      << second.error().describe();
  EXPECT_TRUE(std::filesystem::exists(directory.socket())) << "not unlinked";
  first->close();
  auto third = open_memif("memif:" + directory.socket() + "?role=server", 3, 64);
  EXPECT_TRUE(third.ok()) << "the lock is free again; the stale file is replaced";
}

// Issue 13, item 8: directories Aether creates for a socket are 0700.
TEST(MemifPort, SocketDirectoriesAetherMakesAreOwnerOnly) {
  TempDirectory directory;
  const std::string made = directory.path() + "/made";
  auto server = open_memif("memif:" + made + "/by/aether/memif.sock?role=server", 1, 64);
  ASSERT_TRUE(server.ok()) << server.error().describe();
  for (const std::string& path : {made, made + "/by", made + "/by/aether"}) {
    struct stat status{};
    ASSERT_EQ(::stat(path.c_str(), &status), 0) << path;
    EXPECT_EQ(status.st_mode & 07777, 0700u) << path;
  }
}

}  // namespace
}  // namespace aether::test
