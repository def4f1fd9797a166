// A runtime whose config puts two ports on one [[pool]] forwards between
// them without copying: a TOML config with four memif ports in this process
// (gen -> in, out -> sink), a sender, a dataplane::Forwarder from `in` to
// `out` and a sink on one pinned worker. With `pool = "fwd"` on in and out
// the zero-copy client `out` lends the very buffer `in` received into
// (tx_foreign_copies = 0); with a pool each it must copy every frame.
// Needs no privileges.
#include <arpa/inet.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "aether/core/thread_setup.hpp"
#include "aether/dataplane/echo.hpp"
#include "aether/dataplane/traffic.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/xstat.hpp"
#include "aether/runtime/runtime.hpp"

namespace aether::runtime {
namespace {

std::string config_text(bool shared, unsigned cpu) {
  static int runs = 0;
  const std::string link = fmt::format("@aether-runtime-pools-{}-{}", ::getpid(), runs++);
  const std::string in_out_pool = shared ? "pool = \"fwd\"" : "buffers = 2048";
  return fmt::format(R"([runtime]
lock_memory = false

[[pool]]
name = "fwd"
buffers = 4096

[[port]]
name = "gen"
spec = "memif:{0}-1?role=client&retry_ms=20"
buffers = 2048

[[port]]
name = "in"
spec = "memif:{0}-1?role=server"
{1}

[[port]]
name = "out"
spec = "memif:{0}-2?role=client&retry_ms=20"
{1}

[[port]]
name = "sink"
spec = "memif:{0}-2?role=server"
buffers = 2048

[[worker]]
name = "io"
cpu = {2}
pollers = ["sink", "forward", "send"]
)",
                     link, in_out_pool, cpu);
}

struct Forwarded {
  std::uint64_t forwarded = 0;
  std::uint64_t received = 0;
  std::uint64_t copies = 0;
};

Forwarded run_forwarder(bool shared) {
  auto cpus = allowed_cpus();
  EXPECT_TRUE(cpus && !cpus->empty());
  auto config = parse_config(config_text(shared, cpus && !cpus->empty() ? cpus->front() : 0), "pools.toml");
  EXPECT_TRUE(config) << config.error().describe();
  if (!config) return {};
  auto runtime = Runtime::create(std::move(*config));
  EXPECT_TRUE(runtime) << runtime.error().describe();
  if (!runtime) return {};
  Runtime& rt = **runtime;
  EXPECT_EQ(rt.pool_of_port("in").value() == rt.pool_of_port("out").value(), shared);

  std::vector<std::byte> frame(64);
  const net::UdpEndpoint from{net::MacAddress{{0x02, 0, 0, 0, 0, 1}}, htonl(0x0a500001), htons(9000)};
  const net::UdpEndpoint to{net::MacAddress{{0x02, 0, 0, 0, 0, 2}}, htonl(0x0a500002), htons(9000)};
  EXPECT_EQ(net::write_udp_headers(frame, from, to, frame.size() - net::udp_frame_header_size), frame.size());
  dataplane::TrafficSender send(rt.port("gen").value()->queue(0), *rt.pool_of_port("gen").value(), frame);
  dataplane::Forwarder forward(rt.port("in").value()->queue(0), rt.port("out").value()->queue(0),
                               *rt.pool_of_port("in").value());
  dataplane::TrafficSink sink(rt.port("sink").value()->queue(0), *rt.pool_of_port("sink").value());
  EXPECT_TRUE(rt.add_poller("send", send));
  EXPECT_TRUE(rt.add_poller("forward", forward));
  EXPECT_TRUE(rt.add_poller("sink", sink));
  RunOptions options;
  options.control_interval = std::chrono::milliseconds(10);
  options.duration = std::chrono::milliseconds(1000);
  auto report = rt.run(options);
  EXPECT_TRUE(report) << report.error().describe();
  return Forwarded{forward.forwarded(), sink.received(), net::xstat_or_zero(*rt.port("out").value(), "tx_foreign_copies")};
}

TEST(RuntimeSharedPool, PortsOnOnePoolForwardWithoutCopying) {
  const Forwarded run = run_forwarder(/*shared=*/true);
  EXPECT_GT(run.forwarded, 0u);
  EXPECT_GT(run.received, 0u);
  EXPECT_EQ(run.copies, 0u) << "the buffer `in` received into left `out` as it was";
}

TEST(RuntimeSharedPool, PortsOnTheirOwnPoolsCopyEveryForwardedFrame) {
  const Forwarded run = run_forwarder(/*shared=*/false);
  EXPECT_GT(run.forwarded, 0u);
  EXPECT_GT(run.copies, 0u);
  EXPECT_LE(run.copies, run.forwarded);
}

}  // namespace
}  // namespace aether::runtime
