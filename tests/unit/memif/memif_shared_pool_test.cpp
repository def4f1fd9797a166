// Forwarding through memif ports with and without a shared pool: a frame
// received on one port and sent on another must go back to the pool it came
// from, and a zero-copy client lends a frame of its own pool as it is
// (tx_foreign_copies = 0) but must copy one of another pool. Two memif links
// in this process: gen -> in (link 1), out -> sink (link 2); the test
// forwards in -> out. Needs no privileges.
#include <arpa/inet.h>

#include <gtest/gtest.h>

#include "memif_test_support.hpp"
#include "../../integration/port_contract_checks.hpp"
#include "../../integration/port_test_support.hpp"

namespace aether::test {
namespace {

const net::UdpEndpoint kFrom{net::MacAddress{{0x02, 0, 0, 0, 0, 1}}, htonl(0x0a4e0001), htons(9000)};
const net::UdpEndpoint kTo{net::MacAddress{{0x02, 0, 0, 0, 0, 2}}, htonl(0x0a4e0002), htons(9000)};
constexpr std::size_t kFrames = 300;

std::unique_ptr<mem::Mempool> make_pool(const std::string& name) {
  auto pool = mem::Mempool::create(net::default_packet_pool_config(2048, name));
  EXPECT_TRUE(pool.ok()) << pool.error().describe();
  return pool ? std::move(*pool) : nullptr;
}

Result<std::unique_ptr<net::Port>> open_on(const std::string& spec, mem::Mempool& pool, std::uint16_t id) {
  return net::open_port(spec, net::PortOptions{&pool, id});
}

// The middle of the chain: `in` receives from `gen`, `out` sends to `sink`.
struct Chain {
  std::unique_ptr<TempDirectory> directory = std::make_unique<TempDirectory>();
  std::unique_ptr<mem::Mempool> edge_pool = make_pool("edge");
  std::unique_ptr<mem::Mempool> in_pool;
  std::unique_ptr<mem::Mempool> out_pool;  // null: `out` uses in_pool (shared)
  std::unique_ptr<net::Port> gen, in, out, sink;  // declared after the pools: closed first
  // Closes the ports: every buffer they held goes back to its pool.
  void close() {
    gen.reset();
    in.reset();
    out.reset();
    sink.reset();
  }
};

// `shared`: `in` and `out` on one pool; `out_is_client`: out is link 2's
// (zero-copy) client, else its server.
void open_chain(Chain& chain, bool shared, bool out_is_client) {
  chain.in_pool = make_pool("in");
  if (!shared) chain.out_pool = make_pool("out");
  mem::Mempool& out_pool = shared ? *chain.in_pool : *chain.out_pool;
  const std::string link1 = "memif:" + chain.directory->socket("link1.sock");
  const std::string link2 = "memif:" + chain.directory->socket("link2.sock");
  auto in = open_on(link1 + "?role=server", *chain.in_pool, 1);
  ASSERT_TRUE(in.ok()) << in.error().describe();
  chain.in = std::move(*in);
  auto gen = open_on(link1 + "?role=client&retry_ms=20", *chain.edge_pool, 0);
  ASSERT_TRUE(gen.ok()) << gen.error().describe();
  chain.gen = std::move(*gen);
  const std::string out_role = out_is_client ? "?role=client&retry_ms=20" : "?role=server";
  const std::string sink_role = out_is_client ? "?role=server" : "?role=client&retry_ms=20";
  if (out_is_client) {  // the server listens first
    auto sink = open_on(link2 + sink_role, *chain.edge_pool, 3);
    ASSERT_TRUE(sink.ok()) << sink.error().describe();
    chain.sink = std::move(*sink);
  }
  auto out = open_on(link2 + out_role, out_pool, 2);
  ASSERT_TRUE(out.ok()) << out.error().describe();
  chain.out = std::move(*out);
  if (!out_is_client) {
    auto sink = open_on(link2 + sink_role, *chain.edge_pool, 3);
    ASSERT_TRUE(sink.ok()) << sink.error().describe();
    chain.sink = std::move(*sink);
  }
  for (net::Port* port : {chain.gen.get(), chain.in.get(), chain.out.get(), chain.sink.get()}) {
    auto& memif = dynamic_cast<backends::MemifPort&>(*port);
    ASSERT_TRUE(memif.wait_until_up(kLinkTimeout)) << port->info().spec;
  }
}

// gen sends kFrames; the test forwards what `in` receives to `out` (as
// dataplane::Forwarder does) and counts what `sink` receives.
std::size_t forward_through(Chain& chain) {
  std::vector<mem::Packet*> frames;
  for (std::size_t i = 0; i < kFrames; ++i) {
    mem::Packet* packet = make_udp_packet(*chain.edge_pool, kFrom, kTo, 18 + i % 1400, static_cast<std::uint32_t>(i));
    if (packet != nullptr) frames.push_back(packet);
  }
  std::size_t sent = 0, forwarded = 0, received = 0;
  std::array<mem::Packet*, 32> held{};  // received on `in`, not yet taken by `out`
  unsigned held_count = 0, held_taken = 0;
  std::array<mem::Packet*, 32> at_sink{};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (received < frames.size() && std::chrono::steady_clock::now() < deadline) {
    if (sent < frames.size()) {
      sent += chain.gen->queue(0).tx_burst(std::span(frames).subspan(sent, std::min<std::size_t>(32, frames.size() - sent)));
    }
    if (held_taken == held_count) {
      held_count = chain.in->queue(0).rx_burst(held);
      held_taken = 0;
    }
    const unsigned taken = chain.out->queue(0).tx_burst(std::span(held.data() + held_taken, held_count - held_taken));
    held_taken += taken;
    forwarded += taken;
    // A receiving client lends its buffers on rx_burst: the sink polls every round.
    const unsigned arrived = chain.sink->queue(0).rx_burst(at_sink);
    chain.edge_pool->free_bulk(std::span(at_sink.data(), arrived));
    received += arrived;
  }
  if (held_taken < held_count) held[held_taken]->pool->free_bulk(std::span(held.data() + held_taken, held_count - held_taken));
  EXPECT_EQ(forwarded, frames.size());
  return received;
}

void expect_all_buffers_home(const Chain& chain) {
  for (const mem::Mempool* pool : {chain.edge_pool.get(), chain.in_pool.get(), chain.out_pool.get()}) {
    if (pool != nullptr) {
      EXPECT_EQ(pool->available(), pool->capacity()) << pool->name();
    }
  }
}

TEST(MemifSharedPool, ZeroCopyClientLendsForwardedFramesOfItsOwnPoolWithoutACopy) {
  Chain chain;
  ASSERT_NO_FATAL_FAILURE(open_chain(chain, /*shared=*/true, /*out_is_client=*/true));
  EXPECT_EQ(forward_through(chain), kFrames);
  EXPECT_EQ(contract::xstat(*chain.out, "tx_foreign_copies"), 0u);
  EXPECT_EQ(contract::xstat(*chain.out, "tx_foreign_frees"), 0u);
  chain.close();
  expect_all_buffers_home(chain);
}

TEST(MemifSharedPool, ZeroCopyClientCopiesForwardedFramesOfAnotherPool) {
  Chain chain;
  ASSERT_NO_FATAL_FAILURE(open_chain(chain, /*shared=*/false, /*out_is_client=*/true));
  EXPECT_EQ(forward_through(chain), kFrames);
  EXPECT_EQ(contract::xstat(*chain.out, "tx_foreign_copies"), kFrames);
}

// The copy path (a server, or a client in copy mode) copies every frame
// into the peer's buffers; what it took goes back to the pool it came from.
// Before, it went to the sending port's own pool: another pool's buffer
// index in this pool's ring, handed out twice later.
TEST(MemifSharedPool, ServerFreesForwardedFramesOfAnotherPoolToThatPool) {
  Chain chain;
  ASSERT_NO_FATAL_FAILURE(open_chain(chain, /*shared=*/false, /*out_is_client=*/false));
  EXPECT_EQ(forward_through(chain), kFrames);
  EXPECT_EQ(contract::xstat(*chain.out, "tx_foreign_frees"), kFrames);
  chain.close();
  expect_all_buffers_home(chain);
}

TEST(MemifSharedPool, ServerOnASharedPoolFreesIntoItsCache) {
  Chain chain;
  ASSERT_NO_FATAL_FAILURE(open_chain(chain, /*shared=*/true, /*out_is_client=*/false));
  EXPECT_EQ(forward_through(chain), kFrames);
  EXPECT_EQ(contract::xstat(*chain.out, "tx_foreign_frees"), 0u);
}

}  // namespace
}  // namespace aether::test
