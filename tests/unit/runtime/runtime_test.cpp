// Runtime over real udp ports on loopback (no privileges): pools allocated
// and shared as configured, pollers run on their workers until stopped,
// frames received through the port a poller polls, and the errors an
// application meets when its code and its config disagree.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdlib>
#include <atomic>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/core/thread_setup.hpp"
#include "aether/core/unique_fd.hpp"
#include "aether/runtime/runtime.hpp"
#include "aether/telemetry/scrape_client.hpp"

namespace aether::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Polls until `stop_after` loops, then stops the runtime: a run that
// returns proves the worker ran it.
class CountingPoller final : public dataplane::Poller {
 public:
  CountingPoller(Runtime& runtime, std::uint64_t stop_after) : runtime_(runtime), stop_after_(stop_after) {}
  bool poll() noexcept override {
    if (polls_.fetch_add(1, std::memory_order_relaxed) + 1 == stop_after_) runtime_.stop();
    return false;
  }
  [[nodiscard]] std::uint64_t polls() const noexcept { return polls_.load(std::memory_order_relaxed); }

 private:
  Runtime& runtime_;
  std::uint64_t stop_after_;
  std::atomic<std::uint64_t> polls_{0};
};

// Receives on queue 0 of `port` and frees what it got; stops the runtime
// after the first frame.
class ReceivingPoller final : public dataplane::Poller {
 public:
  ReceivingPoller(Runtime& runtime, net::Port& port, mem::Mempool& pool)
      : runtime_(runtime), queue_(port.queue(0)), pool_(pool) {}
  bool poll() noexcept override {
    std::array<net::Packet*, 32> packets{};
    const unsigned received = queue_.rx_burst(packets);
    if (received > 0) {
      last_length_.store(packets[received - 1]->length(), std::memory_order_relaxed);
      pool_.free_bulk(std::span(packets.data(), received));
      frames_.fetch_add(received, std::memory_order_relaxed);
      runtime_.stop();
    }
    return received > 0;
  }
  [[nodiscard]] net::Queue* rx_queue() const noexcept override { return &queue_; }
  std::atomic<std::uint64_t> frames_{0};
  std::atomic<std::uint32_t> last_length_{0};

 private:
  Runtime& runtime_;
  net::Queue& queue_;
  mem::Mempool& pool_;
};

unsigned first_allowed_cpu() {
  auto cpus = allowed_cpus();
  return cpus && !cpus->empty() ? cpus->front() : 0;
}

RuntimeConfig one_worker_config(std::vector<std::string> pollers) {
  RuntimeConfig config;
  config.lock_memory = false;  // unit tests run unprivileged
  config.workers.push_back(WorkerConfig{.name = "w", .cpu = first_allowed_cpu(), .fifo_priority = {},
                                        .pollers = std::move(pollers), .where = {}});
  return config;
}

TEST(Runtime, RunsAPollerOnItsPinnedWorkerUntilStopped) {
  const unsigned cpu = first_allowed_cpu();  // before create(), which moves this (control) thread off it
  auto runtime = Runtime::create(one_worker_config({"count"}));
  ASSERT_TRUE(runtime) << runtime.error().describe();
  CountingPoller counter(**runtime, 1000);
  ASSERT_TRUE((*runtime)->add_poller("count", counter));
  RunOptions options;
  options.control_interval = std::chrono::milliseconds(5);
  auto report = (*runtime)->run(options);
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_GE(counter.polls(), 1000u);
  ASSERT_EQ(report->workers.size(), 1u);
  EXPECT_EQ(report->workers[0].name, "w");
  EXPECT_EQ(report->workers[0].cpu, cpu);
  EXPECT_GE(report->workers[0].stats.loops, 1000u);
  EXPECT_FALSE(report->stopped_by_signal);
  EXPECT_TRUE(report->faults.empty());
}

TEST(Runtime, StopsAfterTheDurationAndTicksOnTheControlThread) {
  auto runtime = Runtime::create(one_worker_config({"count"}));
  ASSERT_TRUE(runtime) << runtime.error().describe();
  CountingPoller counter(**runtime, 0);  // never stops by itself
  ASSERT_TRUE((*runtime)->add_poller("count", counter));
  int ticks = 0;
  RunOptions options;
  options.control_interval = std::chrono::milliseconds(10);
  options.duration = std::chrono::milliseconds(50);
  options.on_tick = [&](std::chrono::nanoseconds) { ++ticks; };
  auto report = (*runtime)->run(options);
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_GE(ticks, 1);
  EXPECT_GE(report->elapsed, std::chrono::milliseconds(50));
}

// Sends SIGINT to the process on its first poll, as Ctrl-C would.
// Sends SIGINT to the control thread, as a terminal's Ctrl-C reaches it
// (workers block it). Not kill(getpid()): under TSan the kernel may pick
// TSan's own background thread, where the handler is deferred indefinitely.
class InterruptingPoller final : public dataplane::Poller {
 public:
  explicit InterruptingPoller(pthread_t control) : control_(control) {}
  bool poll() noexcept override {
    if (!sent_) pthread_kill(control_, SIGINT);
    sent_ = true;
    return false;
  }

 private:
  pthread_t control_;
  bool sent_ = false;
};

// In a child process (the stop flag is process-wide and never reset):
// exits 0 when SIGINT ended the run cleanly with the report saying so.
[[noreturn]] void run_until_sigint() {
  auto runtime = Runtime::create(one_worker_config({"interrupt"}));
  if (!runtime) std::exit(2);
  InterruptingPoller interrupter(pthread_self());
  if (!(*runtime)->add_poller("interrupt", interrupter)) std::exit(3);
  RunOptions options;
  options.control_interval = std::chrono::milliseconds(5);
  options.duration = std::chrono::seconds(20);  // a bound, not a timing assertion
  auto report = (*runtime)->run(options);
  std::exit(report && report->stopped_by_signal && report->workers.size() == 1 ? 0 : 4);
}

TEST(RuntimeDeathTest, SigintStopsTheRunAndSaysSo) {
#if defined(__SANITIZE_THREAD__)
  // TSan defers an asynchronous signal to a point of its own choosing; in
  // a fresh CI run it sometimes never reached the handler within the run's
  // 20 s bound (not reproduced in the release and asan builds, which run it).
  GTEST_SKIP() << "TSan defers asynchronous signal delivery; run in the release and asan builds";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_until_sigint(), ::testing::ExitedWithCode(0), "");
}

TEST(Runtime, RefusesPollersTheConfigDoesNotName) {
  auto runtime = Runtime::create(one_worker_config({"count"}));
  ASSERT_TRUE(runtime) << runtime.error().describe();
  CountingPoller counter(**runtime, 1);
  auto unknown = (*runtime)->add_poller("other", counter);
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message, HasSubstr("poller 'other': no worker runs it"));
  ASSERT_TRUE((*runtime)->add_poller("count", counter));
  auto twice = (*runtime)->add_poller("count", counter);
  ASSERT_FALSE(twice);
  EXPECT_THAT(twice.error().message, HasSubstr("poller 'count' is already added"));
}

TEST(Runtime, RefusesToRunWithAPollerNeverAdded) {
  auto config = parse_config(fmt::format("[runtime]\nlock_memory = false\n[[worker]]\nname = \"w\"\ncpu = {}\n"
                                         "pollers = [\"missing\"]\n",
                                         first_allowed_cpu()),
                             "app.toml");
  ASSERT_TRUE(config) << config.error().describe();
  auto runtime = Runtime::create(std::move(*config));
  ASSERT_TRUE(runtime) << runtime.error().describe();
  auto report = (*runtime)->run();
  ASSERT_FALSE(report);
  EXPECT_THAT(report.error().message,
              StartsWith("app.toml:3:1: worker 'w': poller 'missing' was never added (Runtime::add_poller)"));
}

TEST(Runtime, RefusesACpuOutsideTheAllowedSet) {
  auto config = one_worker_config({"count"});
  config.workers[0].cpu = 4000;
  auto runtime = Runtime::create(std::move(config));
  ASSERT_FALSE(runtime);
  EXPECT_THAT(runtime.error().message, StartsWith("worker 'w': cpu 4000 is not one this process may run on; allowed: "));
}

TEST(Runtime, OpensPortsOnSharedAndOwnPools) {
  auto config = one_worker_config({"count"});
  config.pools.push_back(PoolConfig{.name = "shared", .buffers = 512, .where = {}});
  config.ports.push_back(PortConfig{.name = "a", .spec = "udp:127.0.0.1:0", .pool = "shared", .buffers = 0, .where = {}});
  config.ports.push_back(PortConfig{.name = "b", .spec = "udp:127.0.0.1:0", .pool = "shared", .buffers = 0, .where = {}});
  config.ports.push_back(PortConfig{.name = "c", .spec = "udp:127.0.0.1:0", .pool = "", .buffers = 256, .where = {}});
  auto runtime = Runtime::create(std::move(config));
  ASSERT_TRUE(runtime) << runtime.error().describe();
  Runtime& rt = **runtime;
  auto shared = rt.pool("shared");
  ASSERT_TRUE(shared) << shared.error().describe();
  EXPECT_EQ((*shared)->capacity(), 512u);
  EXPECT_EQ(rt.pool_of_port("a").value(), *shared);
  EXPECT_EQ(rt.pool_of_port("b").value(), *shared);
  mem::Mempool* own = rt.pool_of_port("c").value();
  EXPECT_NE(own, *shared);
  EXPECT_EQ(own->capacity(), 256u);
  auto missing = rt.port("d");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("no port is named 'd'; ports: a, b, c"));
  EXPECT_THAT(rt.pool("x").error().message, HasSubstr("no pool is named 'x'; pools: shared"));
}

TEST(Runtime, NamesThePortItCannotOpen) {
  auto config = parse_config(fmt::format("[runtime]\nlock_memory = false\n[[port]]\nname = \"feed\"\n"
                                         "spec = \"udp:192.0.2.77:9\"\n[[worker]]\nname = \"w\"\ncpu = {}\n"
                                         "pollers = [\"p\"]\n",
                                         first_allowed_cpu()),
                             "app.toml");
  ASSERT_TRUE(config) << config.error().describe();
  auto runtime = Runtime::create(std::move(*config));
  ASSERT_FALSE(runtime);
  EXPECT_THAT(runtime.error().message, StartsWith("app.toml:3:1: port 'feed': "));
}

TEST(Runtime, APollerReceivesWhatIsSentToItsPort) {
  auto config = one_worker_config({"receive"});
  config.ports.push_back(PortConfig{.name = "in", .spec = "udp:127.0.0.1:0", .pool = "", .buffers = 256, .where = {}});
  auto runtime = Runtime::create(std::move(config));
  ASSERT_TRUE(runtime) << runtime.error().describe();
  net::Port& port = *(*runtime)->port("in").value();
  ReceivingPoller receiver(**runtime, port, *(*runtime)->pool_of_port("in").value());
  ASSERT_TRUE((*runtime)->add_poller("receive", receiver));

  // The kernel chose the port: info().interface is "127.0.0.1:PORT".
  const std::string& bound = port.info().interface;
  const auto colon = bound.rfind(':');
  ASSERT_NE(colon, std::string::npos) << bound;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::stoul(bound.substr(colon + 1))));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  UniqueFd sender(socket(AF_INET, SOCK_DGRAM, 0));
  ASSERT_TRUE(sender.valid());
  const char payload[100] = {};
  ASSERT_EQ(sendto(sender.get(), payload, sizeof(payload), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)),
            static_cast<ssize_t>(sizeof(payload)));

  RunOptions options;
  options.control_interval = std::chrono::milliseconds(5);
  options.duration = std::chrono::seconds(20);  // a bound, not a timing assertion: a lost frame fails below
  auto report = (*runtime)->run(options);
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_EQ(receiver.frames_.load(), 1u);
  EXPECT_EQ(receiver.last_length_.load(), 42u + sizeof(payload));  // Ethernet + IPv4 + UDP headers in front
}

// create() moves the calling (control) thread off the workers' CPUs; the
// destructor gives it its CPUs back, so a second runtime can use them.
TEST(Runtime, GivesTheCreatingThreadItsCpusBack) {
  auto before = allowed_cpus();
  ASSERT_TRUE(before) << before.error().describe();
  for (int round = 0; round < 2; ++round) {
    auto runtime = Runtime::create(one_worker_config({"count"}));
    ASSERT_TRUE(runtime) << "round " << round << ": " << runtime.error().describe();
  }
  auto after = allowed_cpus();
  ASSERT_TRUE(after) << after.error().describe();
  EXPECT_EQ(*after, *before);
}

TEST(Runtime, HandsOutTheConfiguredRings) {
  auto config = one_worker_config({"count"});
  config.add_ring("to-tx", 64);
  auto runtime = Runtime::create(std::move(config));
  ASSERT_TRUE(runtime) << runtime.error().describe();
  auto ring = (*runtime)->ring("to-tx");
  ASSERT_TRUE(ring) << ring.error().describe();
  EXPECT_EQ((*ring)->capacity(), 64u);
  EXPECT_TRUE((*ring)->empty());
  EXPECT_THAT((*runtime)->ring("back").error().message, HasSubstr("no ring is named 'back'; rings: to-tx"));
}

// [telemetry] listen: the runtime serves its ports and workers on the
// control thread while run() runs; a scrape from another thread sees them.
TEST(Runtime, ServesPortAndWorkerCountersWhileRunning) {
  auto config = one_worker_config({"count"});
  config.add_port("in", "udp:127.0.0.1:0").buffers = 256;
  config.telemetry.listen = "127.0.0.1:0";
  auto runtime = Runtime::create(std::move(config));
  ASSERT_TRUE(runtime) << runtime.error().describe();
  Runtime& rt = **runtime;
  const std::string address = rt.metrics_address();
  ASSERT_THAT(address, StartsWith("127.0.0.1:"));
  EXPECT_THAT(address, ::testing::Not(::testing::EndsWith(":0")));  // the port the kernel chose
  CountingPoller counter(rt, 0);  // never stops by itself
  ASSERT_TRUE(rt.add_poller("count", counter));

  std::string body;
  std::string failure;
  std::thread scraper([&] {
    // Until the worker's counter shows up (run() registers it once the
    // worker started), then end the run.
    for (int attempt = 0; attempt < 200 && body.find("aether_worker_loops_total{worker=\"w\"") == std::string::npos;
         ++attempt) {
      auto scrape = telemetry::http_get(address, "/metrics", std::chrono::seconds(5));
      if (!scrape) {
        failure = scrape.error().describe();
        break;
      }
      body = scrape->body;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    rt.stop();
  });
  RunOptions options;
  options.control_interval = std::chrono::milliseconds(10);
  options.duration = std::chrono::seconds(30);  // a bound, not a timing assertion
  auto report = rt.run(options);
  scraper.join();
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_EQ(failure, "");
  EXPECT_THAT(body, HasSubstr("aether_worker_loops_total{worker=\"w\""));
  EXPECT_THAT(body, HasSubstr("aether_queue_rx_packets_total{port=\"udp:127.0.0.1:0\",queue=\"0\"} 0"));
  EXPECT_THAT(body, HasSubstr("aether_port_info{port=\"udp:127.0.0.1:0\""));
}

TEST(Runtime, NamesATelemetryAddressItCannotBind) {
  auto config = parse_config(fmt::format("[runtime]\nlock_memory = false\n[[worker]]\nname = \"w\"\ncpu = {}\n"
                                         "pollers = [\"p\"]\n[telemetry]\nlisten = \"192.0.2.77:9464\"\n",
                                         first_allowed_cpu()),
                             "app.toml");
  ASSERT_TRUE(config) << config.error().describe();
  auto runtime = Runtime::create(std::move(*config));
  ASSERT_FALSE(runtime);
  EXPECT_THAT(runtime.error().message, StartsWith("app.toml:8:10: telemetry: metrics server: cannot bind 192.0.2.77:9464"));
}

}  // namespace
}  // namespace aether::runtime
