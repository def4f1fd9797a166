// Interoperability with the peer no one here wrote: DPDK 22.11's net_memif
// PMD, driven by dpdk-testpmd (Debian packages dpdk-dev and
// librte-net-memif23). testpmd forwards in io mode: every frame it receives
// on its one memif port goes back out unchanged, so Aether sees its own
// frames return and both sides' counters can be compared.
//
// testpmd runs as measure::TestpmdProcess starts it (no hugepages, no shared
// runtime files), forwarding on CPU 1 with its main lcore on CPU 0. Skipped,
// loudly, where testpmd or the memif PMD is not installed.
#include <arpa/inet.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "aether/measure/testpmd_process.hpp"
#include "../unit/memif/memif_test_support.hpp"
#include "port_test_support.hpp"

namespace aether::test {
namespace {

#define SKIP_WITHOUT_DPDK()                                                                     \
  do {                                                                                          \
    if (const std::string problem = measure::TestpmdProcess::missing_memif_support(); !problem.empty()) { \
      GTEST_SKIP() << "\n*** DPDK INTEROP NOT TESTED: " << problem << " ***\n";                 \
    }                                                                                           \
  } while (false)

// testpmd with one memif port, forwarding in io mode (every frame goes back
// out unchanged) on CPU 1, its main lcore on CPU 0.
class Testpmd {
 public:
  struct Options {
    std::string role;       // "server" or "client" (22.11 devargs; master/slave are deprecated)
    std::string socket;
    bool abstract = false;  // DPDK's default is abstract; tests say which they want
    unsigned bsize = 0;     // 0: DPDK's default 2048
  };
  explicit Testpmd(Options options) : options_(std::move(options)) {}

  bool start() {
    measure::TestpmdProcess::Options process;
    std::string vdev = "net_memif,role=" + options_.role + ",id=0,socket=" + options_.socket +
                       ",socket-abstract=" + (options_.abstract ? "yes" : "no");
    if (options_.bsize != 0) vdev += ",bsize=" + std::to_string(options_.bsize);
    process.vdevs = {vdev};
    process.forward_mode = "io";
    auto started = process_.start(process);
    if (!started) {
      error_ = started.error().describe();
      return false;
    }
    auto forwarding = process_.start_forwarding();
    if (!forwarding) error_ = forwarding.error().describe();
    return forwarding.ok();
  }
  measure::TestpmdProcess::PortStats port_stats() {
    auto stats = process_.port_stats();
    EXPECT_TRUE(stats.ok()) << stats.error().describe();
    return stats.ok() ? *stats : measure::TestpmdProcess::PortStats{};
  }
  void command(const std::string& line) { process_.command(line); }
  void kill_hard() { process_.kill_hard(); }
  void stop() { process_.stop(); }
  std::string output() { return error_ + "\n" + process_.output(); }

 private:
  Options options_;
  measure::TestpmdProcess process_;
  std::string error_;
};

const net::UdpEndpoint kFrom{net::MacAddress{{0x02, 0, 0, 0, 0, 1}}, htonl(0x0a4d0001), htons(9000)};
const net::UdpEndpoint kTo{net::MacAddress{{0x02, 0, 0, 0, 0, 2}}, htonl(0x0a4d0002), htons(9000)};

struct EchoResult {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t corrupt = 0;
  std::uint64_t bytes = 0;
};

// UDP payload for frame i: 60..1514-byte frames (64..1518 on the wire).
std::size_t payload_for(std::size_t i) { return 18 + (i * 97) % (1472 - 18 + 1); }

// A UDP frame of any length: chained over as many pool buffers as it needs.
mem::Packet* make_frame(mem::Mempool& pool, std::size_t payload, std::uint32_t sequence) {
  std::vector<std::byte> frame(net::udp_frame_header_size + payload + net::min_ethernet_frame);
  const std::size_t length = net::write_udp_headers(frame, kFrom, kTo, payload);
  fill_payload(frame.data() + net::udp_frame_header_size, payload, sequence);
  const std::size_t per_segment = std::min<std::size_t>(pool.data_room(), 3000);
  std::vector<mem::Packet*> segments((length + per_segment - 1) / per_segment);
  if (pool.alloc_bulk(segments) != segments.size()) return nullptr;
  for (std::size_t s = 0; s < segments.size(); ++s) {
    const std::size_t n = std::min(per_segment, length - s * per_segment);
    std::memcpy(segments[s]->data(), frame.data() + s * per_segment, n);
    (void)segments[s]->set_length(static_cast<std::uint16_t>(n));
    if (s > 0) segments[s - 1]->next = segments[s];
  }
  segments[0]->packet_length = static_cast<std::uint32_t>(length);
  return segments[0];
}

// Sends `count` frames through testpmd and back, keeping at most `window`
// in flight so that no ring overflows, until all returned or time runs out.
EchoResult echo_through(MemifEnd& end, std::size_t count, std::uint32_t first_sequence = 0,
                        std::chrono::seconds timeout = std::chrono::seconds(20),
                        const std::function<std::size_t(std::size_t)>& payload = payload_for,
                        std::size_t window = 256) {
  EchoResult result;
  std::vector<int> seen(count, 0);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<mem::Packet*, 32> burst{};
  while (result.received < count && std::chrono::steady_clock::now() < deadline) {
    while (result.sent < count && result.sent - result.received < window) {
      const auto sequence = static_cast<std::uint32_t>(first_sequence + result.sent);
      mem::Packet* packet = make_frame(*end.pool, payload(result.sent), sequence);
      if (packet == nullptr) break;
      const std::uint32_t length = packet->packet_length;
      if (end.queue().tx_burst({&packet, 1}) != 1) {
        end.pool->free_bulk({&packet, 1});
        break;
      }
      result.bytes += length;
      ++result.sent;
    }
    const unsigned n = end.queue().rx_burst(burst);
    for (unsigned k = 0; k < n; ++k) {
      std::vector<std::byte> flat;
      for (const mem::Packet* s = burst[k]; s != nullptr; s = s->next) flat.insert(flat.end(), s->data(), s->data() + s->length());
      std::uint32_t sequence = 0;
      if (flat.size() < net::udp_frame_header_size ||
          !payload_matches(std::span(flat).subspan(net::udp_frame_header_size), sequence) ||
          sequence < first_sequence || sequence - first_sequence >= count) {
        ++result.corrupt;
      } else {
        ++seen[sequence - first_sequence];
      }
    }
    end.pool->free_bulk(std::span(burst.data(), n));
    result.received += n;
  }
  return result;
}

// testpmd drops whatever its rx queue holds when forwarding starts
// (flush_fwd_rx_queues): one frame must make the round trip before the
// measured traffic begins. Counters are then compared as differences from
// here: "clear port stats" is not reliable with net_memif, whose reset
// races the forwarding lcore's non-atomic `n_pkts +=` (a lost reset leaves
// the few priming frames counted).
bool prime(MemifEnd& end, Testpmd& testpmd) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (echo_through(end, 1, 0xfff00000u, std::chrono::seconds(1)).received == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::array<mem::Packet*, 32> burst{};
      for (unsigned n = 0; (n = end.queue().rx_burst(burst)) != 0;) end.pool->free_bulk(std::span(burst.data(), n));
      return true;
    }
  }
  (void)testpmd;
  return false;
}

std::string socket_name(const TempDirectory& directory, bool abstract) {
  return abstract ? fmt::format("aether-memif-dpdk-{}", ::getpid()) : directory.socket();
}

// Aether on one side, testpmd on the other, frames both ways through it.
void run_echo(const std::string& aether_role, const std::string& aether_query, unsigned dpdk_bsize,
              std::size_t count, const std::function<std::size_t(std::size_t)>& payload = payload_for) {
  TempDirectory directory;
  const std::string socket = directory.socket();
  const bool aether_serves = aether_role == "server";
  Testpmd testpmd({aether_serves ? "client" : "server", socket, false, dpdk_bsize});
  MemifEnd end;
  const std::string spec = "memif:" + socket + "?role=" + aether_role + "&retry_ms=20" + aether_query;
  if (aether_serves) {  // DPDK's client connects once, when its port starts: be there first
    auto opened = open_memif(spec, 1, 8192);
    ASSERT_TRUE(opened.ok()) << opened.error().describe();
    end = std::move(*opened);
    ASSERT_TRUE(testpmd.start()) << testpmd.output();
  } else {
    ASSERT_TRUE(testpmd.start()) << testpmd.output();
    auto opened = open_memif(spec, 1, 8192);
    ASSERT_TRUE(opened.ok()) << opened.error().describe();
    end = std::move(*opened);
  }
  ASSERT_TRUE(end.memif().wait_until_up(std::chrono::seconds(10))) << testpmd.output();
  const auto status = end.memif().connection_status();
  EXPECT_NE(status.peer_name.find("DPDK"), std::string::npos) << status.peer_name;

  ASSERT_TRUE(prime(end, testpmd)) << testpmd.output();
  const auto before = end.port->stats();
  const auto dpdk_before = testpmd.port_stats();
  const EchoResult echoed = echo_through(end, count, 0, std::chrono::seconds(30), payload);
  EXPECT_EQ(echoed.sent, count);
  EXPECT_EQ(echoed.received, count);
  EXPECT_EQ(echoed.corrupt, 0u);
  const auto stats = end.port->stats();
  EXPECT_EQ(stats.tx_packets - before.tx_packets, count);
  EXPECT_EQ(stats.rx_packets - before.rx_packets, count);
  EXPECT_EQ(stats.tx_bytes - before.tx_bytes, echoed.bytes);
  EXPECT_EQ(stats.rx_bytes - before.rx_bytes, echoed.bytes);
  EXPECT_EQ(stats.rx_drops() + stats.tx_drops(), 0u);
  const auto dpdk = testpmd.port_stats();
  EXPECT_EQ(dpdk.rx_packets - dpdk_before.rx_packets, count) << "testpmd received what Aether sent";
  EXPECT_EQ(dpdk.tx_packets - dpdk_before.tx_packets, count) << "testpmd sent what Aether received";
  EXPECT_EQ(dpdk.rx_bytes - dpdk_before.rx_bytes, echoed.bytes);
  const auto counters = end.memif().memif_counters(0);
  EXPECT_EQ(counters.bad_descriptors + counters.bad_indices + counters.incomplete_chains, 0u);
  end.close();
  if (::testing::Test::HasFailure()) {
    testpmd.stop();
    const std::string out = testpmd.output();
    std::printf("testpmd said:\n%s\n", out.substr(out.size() > 3000 ? out.size() - 3000 : 0).c_str());
    std::printf("counters: bad_desc %lu bad_idx %lu chains %lu link_down %lu\n", (unsigned long)counters.bad_descriptors, (unsigned long)counters.bad_indices, (unsigned long)counters.incomplete_chains, (unsigned long)counters.tx_link_down);
  }
}

TEST(MemifDpdk, AetherClientZeroCopyWithTestpmdServer) {
  SKIP_WITHOUT_DPDK();
  run_echo("client", "", 0, 20'000);
}

TEST(MemifDpdk, AetherServerWithTestpmdClient) {
  SKIP_WITHOUT_DPDK();
  run_echo("server", "", 0, 20'000);
}

TEST(MemifDpdk, AetherCopyClientChainsOverSmallBuffersWithTestpmdServer) {
  SKIP_WITHOUT_DPDK();
  // 512-byte memif buffers: most frames span 2 or 3 descriptors each way.
  run_echo("client", "&zero_copy=0&bsize=512", 0, 10'000);
}

TEST(MemifDpdk, AetherServerTakesChainsFromTestpmdClientWithSmallBuffers) {
  SKIP_WITHOUT_DPDK();
  // DPDK 22.11's sender leaves a stale NEXT flag on reused first
  // descriptors; the server clears consumed flags, or frames would merge.
  run_echo("server", "", 512, 10'000);
}

TEST(MemifDpdk, ChainedJumboFramesCrossBothWays) {
  SKIP_WITHOUT_DPDK();
  // 9000-byte frames: chains of memif buffers and of testpmd's mbufs.
  run_echo("client", "", 0, 500, [](std::size_t i) { return 8000 + (i % 958); });
}

// testpmd dies mid-stream and comes back: Aether notices, counts, reconnects.
void run_restart(bool aether_serves) {
  TempDirectory directory;
  // Abstract: a killed server leaves no socket file behind to block its restart.
  const std::string name = socket_name(directory, !aether_serves);
  Testpmd::Options options{aether_serves ? "client" : "server", aether_serves ? directory.socket() : name,
                           !aether_serves, 0};
  const std::string spec = aether_serves ? "memif:" + directory.socket() + "?role=server"
                                         : "memif:@" + name + "?role=client&retry_ms=50";
  MemifEnd end;
  auto testpmd = std::make_unique<Testpmd>(options);
  if (aether_serves) {
    auto opened = open_memif(spec, 1, 8192);
    ASSERT_TRUE(opened.ok()) << opened.error().describe();
    end = std::move(*opened);
    ASSERT_TRUE(testpmd->start()) << testpmd->output();
  } else {
    ASSERT_TRUE(testpmd->start()) << testpmd->output();
    auto opened = open_memif(spec, 1, 8192);
    ASSERT_TRUE(opened.ok()) << opened.error().describe();
    end = std::move(*opened);
  }
  ASSERT_TRUE(end.memif().wait_until_up(std::chrono::seconds(10))) << testpmd->output();
  ASSERT_TRUE(prime(end, *testpmd)) << testpmd->output();
  const auto primed = end.port->stats();
  const EchoResult before = echo_through(end, 5000);
  ASSERT_EQ(before.received, 5000u);

  // Mid-stream: frames in flight both ways, then testpmd is killed.
  std::atomic<bool> stop_streaming{false};
  std::uint64_t streamed = 0;
  std::uint64_t streamed_back = 0;
  std::thread stream([&] {
    std::array<mem::Packet*, 32> burst{};
    while (!stop_streaming.load()) {
      mem::Packet* packet = make_udp_packet(*end.pool, kFrom, kTo, 200, 0);
      if (packet != nullptr && end.queue().tx_burst({&packet, 1}) == 1) {
        ++streamed;
      } else if (packet != nullptr) {
        end.pool->free_bulk({&packet, 1});
      }
      const unsigned n = streamed % 4 == 0 ? end.queue().rx_burst(burst) : 0;  // reads slower than it sends
      end.pool->free_bulk(std::span(burst.data(), n));
      streamed_back += n;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  testpmd->kill_hard();
  ASSERT_TRUE(end.memif().wait_until_down(std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // some frames meet a link that is down
  stop_streaming.store(true);
  stream.join();
  const auto status = end.memif().connection_status();
  EXPECT_TRUE(status.last_disconnect_by_peer) << status.last_disconnect_reason;
  const auto counters = end.memif().memif_counters(0);
  const auto stats = end.port->stats();
  // Every frame taken by tx_burst is accounted for: echoed back and read,
  // dropped for want of a link, lost with the peer, or swallowed by
  // testpmd (consumed from the ring, never returned: only testpmd knew).
  EXPECT_EQ(stats.tx_packets - primed.tx_packets + counters.tx_link_down, before.sent + streamed);
  EXPECT_GT(counters.tx_link_down, 0u);
  EXPECT_LE(before.received + streamed_back + counters.tx_lost_on_disconnect, before.sent + streamed - counters.tx_link_down);
  std::printf("[ restart  ] streamed %lu frames mid-stream: %lu echoed and read, %lu handed over and lost with the "
              "peer, %lu dropped while the link was down, %lu unaccounted (inside testpmd or in its tx ring)\n",
              static_cast<unsigned long>(streamed), static_cast<unsigned long>(streamed_back),
              static_cast<unsigned long>(counters.tx_lost_on_disconnect),
              static_cast<unsigned long>(counters.tx_link_down),
              static_cast<unsigned long>(streamed - counters.tx_link_down - streamed_back -
                                         std::min<std::uint64_t>(counters.tx_lost_on_disconnect,
                                                                 streamed - counters.tx_link_down - streamed_back)));

  testpmd = std::make_unique<Testpmd>(options);
  ASSERT_TRUE(testpmd->start()) << testpmd->output();
  ASSERT_TRUE(end.memif().wait_until_up(std::chrono::seconds(10))) << testpmd->output();
  EXPECT_EQ(end.memif().connection_status().connections, 2u);
  ASSERT_TRUE(prime(end, *testpmd)) << testpmd->output();
  const auto dpdk_before = testpmd->port_stats();
  const EchoResult after = echo_through(end, 5000, 1'000'000);
  EXPECT_EQ(after.received, 5000u);
  EXPECT_EQ(after.corrupt, 0u);
  EXPECT_EQ(testpmd->port_stats().rx_packets - dpdk_before.rx_packets, 5000u);
  end.close();
}

TEST(MemifDpdk, AetherClientReconnectsWhenTestpmdServerRestarts) {
  SKIP_WITHOUT_DPDK();
  run_restart(false);
}

TEST(MemifDpdk, AetherServerAcceptsTestpmdClientAfterItRestarts) {
  SKIP_WITHOUT_DPDK();
  run_restart(true);
}

}  // namespace
}  // namespace aether::test
