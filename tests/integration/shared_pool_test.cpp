// Forwarding between two ports with and without a shared pool, on a real
// veth pair in throwaway namespaces (needs root), for the backends whose
// buffers are ours (udp, afpacket, afxdp): port A sends frames to port B,
// then sends again what B received (a frame B's rx put in a buffer, handed
// over to A's tx as a forwarder does). With one pool the hand-over is free:
// afxdp sends from the buffer itself (tx_foreign_copies = 0), udp and
// afpacket free it into their own cache (tx_foreign_frees = 0). With a pool
// per port every such frame is copied (afxdp) or freed to the other pool's
// ring (one CAS each), and counted. Either way every buffer goes home.
#include <cstdio>
#include <ostream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "port_contract_checks.hpp"
#include "port_test_support.hpp"
#include "run_command.hpp"

namespace aether::test {
namespace {

constexpr std::uint16_t kUdpPort = 9000;
constexpr std::size_t kFrames = 200;

struct Case {
  const char* kind;
  bool shared;
  const char* counter;  // the xstat that counts hand-overs between pools
};

// gtest prints a parameter in the test's listing (and so in ctest's name):
// say what it is instead of its bytes, which change from build to build.
void PrintTo(const Case& c, std::ostream* os) { *os << c.kind << (c.shared ? " on one pool" : " on a pool per port"); }

std::string name_of(const ::testing::TestParamInfo<Case>& info) {
  return std::string(info.param.kind) + (info.param.shared ? "_shared_pool" : "_pool_per_port");
}

// Receives `count` frames on `queue` into `out`; stops early after 5 s.
void collect(net::Queue& queue, std::size_t count, std::vector<mem::Packet*>& out) {
  std::array<mem::Packet*, 32> burst{};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    const unsigned got = queue.rx_burst(std::span(burst).first(std::min<std::size_t>(32, count - out.size())));
    out.insert(out.end(), burst.begin(), burst.begin() + got);
  }
}

class SharedPoolTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!running_as_root()) GTEST_SKIP() << "needs root: makes namespaces, veth pairs and raw or XDP sockets";
    net::VethPairConfig config;
    config.kernel_addresses = std::string_view(GetParam().kind) == "udp";
    auto veth = net::VethPair::create(config);
    ASSERT_TRUE(veth.ok()) << veth.error().describe();
    veth_ = std::make_unique<net::VethPair>(std::move(*veth));
    for (auto* pool : {&pool_a_, &pool_b_}) {
      if (pool == &pool_b_ && GetParam().shared) break;
      auto created = mem::Mempool::create(net::default_packet_pool_config(4096, pool == &pool_a_ ? "a" : "b"));
      ASSERT_TRUE(created.ok()) << created.error().describe();
      *pool = std::move(*created);
    }
    port_a_ = open(veth_->namespace_a(), veth_->end_a(), *pool_a_, 0);
    port_b_ = open(veth_->namespace_b(), veth_->end_b(), GetParam().shared ? *pool_a_ : *pool_b_, 1);
  }

  std::unique_ptr<net::Port> open(const net::NetworkNamespace& ns, const net::VethEnd& end, mem::Mempool& pool,
                                  std::uint16_t id) {
    auto entered = net::ScopedNamespace::enter(ns);
    EXPECT_TRUE(entered.ok()) << entered.error().describe();
    auto port = net::open_port(measure::spec_for_veth_end(GetParam().kind, end, kUdpPort), net::PortOptions{&pool, id});
    EXPECT_TRUE(port.ok()) << port.error().describe();
    return port ? std::move(*port) : nullptr;
  }

  std::unique_ptr<net::VethPair> veth_;
  std::unique_ptr<mem::Mempool> pool_a_, pool_b_;  // pool_b_ stays empty when shared
  std::unique_ptr<net::Port> port_a_, port_b_;     // declared after the pools: closed first
};

TEST_P(SharedPoolTest, ForwardedFramesAreHandedOverOrCountedAndAllBuffersGoHome) {
  ASSERT_TRUE(port_a_ && port_b_);
  const Case& param = GetParam();
  const net::UdpEndpoint from = endpoint_of(veth_->end_a(), kUdpPort);
  const net::UdpEndpoint to = endpoint_of(veth_->end_b(), kUdpPort);
  std::vector<mem::Packet*> fresh;
  for (std::size_t i = 0; i < kFrames; ++i) fresh.push_back(make_udp_packet(*pool_a_, from, to, 100, static_cast<std::uint32_t>(i)));
  ASSERT_EQ(std::count(fresh.begin(), fresh.end(), nullptr), 0);
  ASSERT_EQ(send_all(port_a_->queue(0), *pool_a_, fresh), kFrames);
  std::vector<mem::Packet*> received;
  collect(port_b_->queue(0), kFrames, received);
  ASSERT_EQ(received.size(), kFrames);
  for (const mem::Packet* packet : received) {
    EXPECT_EQ(packet->pool, param.shared ? pool_a_.get() : pool_b_.get()) << "B received into its pool";
  }
  EXPECT_EQ(contract::xstat(*port_a_, param.counter), 0u) << "A's own frames are not foreign";

  // The forwarder's hand-over: what B received leaves on A, unchanged.
  mem::Mempool& b_pool = param.shared ? *pool_a_ : *pool_b_;
  ASSERT_EQ(send_all(port_a_->queue(0), b_pool, received), kFrames);
  std::vector<mem::Packet*> again;
  collect(port_b_->queue(0), kFrames, again);
  EXPECT_EQ(again.size(), kFrames);
  if (!again.empty()) again.front()->pool->free_bulk(again);
  // afxdp frees sent buffers as completions come back: reap them.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (port_a_->stats().tx_packets < 2 * kFrames && std::chrono::steady_clock::now() < deadline) {
    (void)port_a_->queue(0).tx_burst({});
  }
  (void)port_a_->queue(0).tx_burst({});

  EXPECT_EQ(contract::xstat(*port_a_, param.counter), param.shared ? 0u : kFrames)
      << (param.shared ? "one pool: handed over as it is" : "a pool per port: each frame crossed pools");
  port_a_.reset();
  port_b_.reset();
  for (const auto* pool : {pool_a_.get(), pool_b_.get()}) {
    if (pool != nullptr) {
      EXPECT_EQ(pool->available(), pool->capacity()) << pool->name() << ": every buffer back home";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SharedPoolTest,
                         ::testing::Values(Case{"udp", true, "tx_foreign_frees"}, Case{"udp", false, "tx_foreign_frees"},
                                           Case{"afpacket", true, "tx_foreign_frees"},
                                           Case{"afpacket", false, "tx_foreign_frees"},
                                           Case{"afxdp", true, "tx_foreign_copies"},
                                           Case{"afxdp", false, "tx_foreign_copies"}),
                         name_of);

// `aether bench fwd` runs the forwarder both ways in one process and says in
// the JSON how many frames it copied per forwarded frame: none with the
// shared pool; with a pool per port memif's zero-copy client and afxdp copy
// every frame of another pool before sending it. Counts only, never Mpps.
void expect_fwd_bench_counts_copies(const std::string& backend) {
  const std::string json_path = "/tmp/aether-fwd-bench-" + std::to_string(::getpid()) + "-" + backend + ".json";
  const CommandOutput run = run_command(std::string(AETHER_CLI_PATH) + " bench fwd --backend " + backend +
                                        " --seconds 0.5 --json " + json_path);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const auto report = nlohmann::json::parse(slurp(json_path), nullptr, false);
  std::remove(json_path.c_str());
  ASSERT_FALSE(report.is_discarded()) << run.out;
  ASSERT_EQ(report["runs"].size(), 2u) << report.dump(2);
  const auto& shared = report["runs"][0];
  const auto& per_port = report["runs"][1];
  EXPECT_EQ(shared["pools"], "shared");
  EXPECT_GT(shared["forwarded"].get<std::uint64_t>(), 0u) << report.dump(2);
  EXPECT_EQ(shared["copies"].get<std::uint64_t>(), 0u) << report.dump(2);
  EXPECT_EQ(shared["foreign_frees"].get<std::uint64_t>(), 0u) << report.dump(2);
  EXPECT_EQ(per_port["pools"], "per_port");
  EXPECT_GT(per_port["forwarded"].get<std::uint64_t>(), 0u) << report.dump(2);
  // Every forwarded frame crossed pools: copied (memif's zero-copy client,
  // afxdp) before it could be sent. A frame `out` took but dropped as bad
  // is not copied, hence at most.
  const auto copied = per_port["copies"].get<std::uint64_t>();
  EXPECT_GT(copied, 0u) << report.dump(2);
  EXPECT_LE(copied, per_port["forwarded_total"].get<std::uint64_t>()) << report.dump(2);
  EXPECT_TRUE(report.contains("shared_over_per_port_mpps")) << report.dump(2);
  EXPECT_NE(run.out.find("copies/fwd frame"), std::string::npos) << run.out;
}

TEST(FwdBench, MemifCopiesNothingWithASharedPoolAndEveryFrameWithout) { expect_fwd_bench_counts_copies("memif"); }

TEST(FwdBench, AfxdpCopiesNothingWithASharedPoolAndEveryFrameWithout) {
  if (!running_as_root()) GTEST_SKIP() << "needs root: veth pairs and AF_XDP sockets";
  expect_fwd_bench_counts_copies("afxdp");
}

}  // namespace
}  // namespace aether::test
