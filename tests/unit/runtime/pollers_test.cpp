// The runtime's pollers on real workers: frames handed between two workers
// through a PacketRing (udp ports on loopback), and a deadline timer firing
// on a worker. Runs are bounded by a duration, never timed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include <gtest/gtest.h>

#include "aether/core/thread_setup.hpp"
#include "aether/core/unique_fd.hpp"
#include "aether/runtime/pollers.hpp"
#include "aether/runtime/runtime.hpp"

namespace aether::runtime {
namespace {

WorkerConfig worker(std::string name, unsigned cpu, std::string poller) {
  return WorkerConfig{.name = std::move(name), .cpu = cpu, .fifo_priority = {}, .pollers = {std::move(poller)},
                      .where = {}};
}

// Sends one datagram to the udp port `port` is bound to.
void send_to(const net::Port& port) {
  const std::string& bound = port.info().interface;  // "127.0.0.1:PORT"
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::stoul(bound.substr(bound.rfind(':') + 1))));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  UniqueFd sender(socket(AF_INET, SOCK_DGRAM, 0));
  ASSERT_TRUE(sender.valid());
  const char payload[64] = {};
  ASSERT_EQ(sendto(sender.get(), payload, sizeof(payload), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)),
            static_cast<ssize_t>(sizeof(payload)));
}

// Worker "rx" receives on port "in" into the ring; worker "tx" sends from
// the ring on port "out". udp sends a frame to its destination, the
// address of "in", so the one datagram goes round: every lap crosses the
// ring from one worker to the other.
TEST(RuntimePollers, HandFramesBetweenTwoWorkersThroughARing) {
  auto cpus = allowed_cpus();
  ASSERT_TRUE(cpus) << cpus.error().describe();
  if (cpus->size() < 2) GTEST_SKIP() << "two workers need two allowed CPUs";
  RuntimeConfig config;
  config.lock_memory = false;
  config.pools.push_back(PoolConfig{.name = "shared", .buffers = 256, .where = {}});
  config.ports.push_back(PortConfig{.name = "in", .spec = "udp:127.0.0.1:0", .pool = "shared", .buffers = 0, .where = {}});
  config.ports.push_back(PortConfig{.name = "out", .spec = "udp:127.0.0.1:0", .pool = "shared", .buffers = 0, .where = {}});
  config.workers.push_back(worker("rx", (*cpus)[0], "receive"));
  config.workers.push_back(worker("tx", (*cpus)[1], "send"));
  auto runtime = Runtime::create(std::move(config));
  ASSERT_TRUE(runtime) << runtime.error().describe();
  Runtime& rt = **runtime;

  auto ring = PacketRing::create(64);
  ASSERT_TRUE(ring) << ring.error().describe();
  QueueToRing receive(rt.port("in").value()->queue(0), *ring);
  RingToQueue send(*ring, rt.port("out").value()->queue(0));
  ASSERT_TRUE(rt.add_poller("receive", receive));
  ASSERT_TRUE(rt.add_poller("send", send));
  send_to(*rt.port("in").value());

  RunOptions options;
  options.control_interval = std::chrono::milliseconds(5);
  options.duration = std::chrono::seconds(20);  // a bound: the laps below end it long before
  options.on_tick = [&](std::chrono::nanoseconds) {
    if (send.sent() >= 3) rt.stop();
  };
  auto report = rt.run(options);
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_GE(send.sent(), 3u);
  EXPECT_EQ(receive.ring_full_drops(), 0u);
}

TEST(RuntimePollers, ADeadlineTimerFiresOnItsWorker) {
  auto cpus = allowed_cpus();
  ASSERT_TRUE(cpus) << cpus.error().describe();
  RuntimeConfig config;
  config.lock_memory = false;
  config.workers.push_back(worker("w", cpus->front(), "timer"));
  auto runtime = Runtime::create(std::move(config));
  ASSERT_TRUE(runtime) << runtime.error().describe();
  const Clock clock = Clock::calibrate(std::chrono::milliseconds(10));
  std::atomic<int> calls{0};
  DeadlineTimer timer(clock, std::chrono::milliseconds(1), [&calls] { calls.fetch_add(1, std::memory_order_relaxed); });
  ASSERT_TRUE((*runtime)->add_poller("timer", timer));
  RunOptions options;
  options.control_interval = std::chrono::milliseconds(5);
  options.duration = std::chrono::seconds(20);
  options.on_tick = [&](std::chrono::nanoseconds) {
    if (timer.fired() >= 3) (*runtime)->stop();
  };
  auto report = (*runtime)->run(options);
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_GE(timer.fired(), 3u);
  EXPECT_EQ(static_cast<std::uint64_t>(calls.load()), timer.fired());
}

}  // namespace
}  // namespace aether::runtime
