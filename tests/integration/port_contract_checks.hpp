// The port contract's checks (docs/runtime.md, "The port contract"), as
// functions any test can call on any opened port: the conformance suite
// runs them on every backend here, and a guest test can run them on a vfio
// port (include this header; it needs gtest and aether::dataplane only).
//
// No timing is asserted: sleeping is shown by the worker's own counts
// (sleeps, wake-ups, voluntary context switches) and by its CPU time being
// a fraction of the wall time it ran (a spinning worker's is all of it);
// timestamps are checked to fall inside the window the test observed.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>

#include "aether/dataplane/poller.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port.hpp"
#include "aether/net/rx_clock.hpp"

namespace aether::test::contract {

// The value of xstat `name` of `port`; a failure (and 0) if it has none.
inline std::uint64_t xstat(const net::Port& port, std::string_view name) {
  for (const auto& stat : port.xstats()) {
    if (stat.name == name) return stat.value;
  }
  ADD_FAILURE() << port.info().spec << " has no xstat '" << name << "'";
  return 0;
}

// xstats: names non-empty, snake_case, unique within the port.
inline void check_xstats(const net::Port& port) {
  const auto stats = port.xstats();
  std::set<std::string> names;
  for (const auto& stat : stats) {
    EXPECT_FALSE(stat.name.empty()) << port.info().spec;
    EXPECT_TRUE(std::all_of(stat.name.begin(), stat.name.end(),
                            [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }))
        << port.info().spec << ": xstat '" << stat.name << "' is not snake_case";
    EXPECT_TRUE(names.insert(stat.name).second) << port.info().spec << ": xstat '" << stat.name << "' twice";
  }
}

// An rx timestamp on RxClock's scale, inside [sent_ns, received_ns]: the
// clock read before the frame was sent and after rx_burst returned it.
// `slack_ns` allows for the wall-clock-to-TSC mapping of kernel stamps
// (measured once per process) and is generous: the check is that the scale
// is right (not 0, not CLOCK_REALTIME, not raw ticks), not how precise.
inline void check_rx_timestamp(const net::Port& port, const mem::Packet& packet, std::uint64_t sent_ns,
                               std::uint64_t received_ns, std::uint64_t slack_ns = 20'000'000) {
  ASSERT_NE(port.rx_timestamp_source(), net::RxTimestampSource::none)
      << port.info().spec << " says it fills no rx timestamp";
  EXPECT_GE(packet.timestamp + slack_ns, sent_ns) << port.info().spec << " ("
                                                   << net::to_string(port.rx_timestamp_source()) << ")";
  EXPECT_LE(packet.timestamp, received_ns + slack_ns)
      << port.info().spec << " (" << net::to_string(port.rx_timestamp_source()) << ")";
}

// A poller that receives from one queue and counts what it got.
class CountingPoller final : public dataplane::Poller {
 public:
  CountingPoller(net::Queue& queue, mem::Mempool& pool) : queue_(queue), pool_(pool) {}
  bool poll() noexcept override {
    std::array<mem::Packet*, 32> burst{};
    const unsigned n = queue_.rx_burst(burst);
    if (n == 0) return false;
    pool_.free_bulk(std::span(burst.data(), n));
    // release: nothing to publish but the count; relaxed would do too.
    received_.store(received_.load(std::memory_order_relaxed) + n, std::memory_order_release);
    return true;
  }
  [[nodiscard]] net::Queue* rx_queue() const noexcept override { return &queue_; }
  [[nodiscard]] std::uint64_t received() const noexcept { return received_.load(std::memory_order_acquire); }

 private:
  net::Queue& queue_;
  mem::Mempool& pool_;
  std::atomic<std::uint64_t> received_{0};
};

// Interrupt sleep: a worker on `queue` (which must offer an
// rx_interrupt_fd) sleeps while idle, wakes when `send(count)` sends it
// frames, and receives every one of them.
inline void check_interrupt_sleep(net::Queue& queue, mem::Mempool& pool, const std::function<void(unsigned)>& send,
                                  unsigned count = 20, unsigned cpu = 0) {
  ASSERT_GE(queue.rx_interrupt_fd(), 0) << "the queue offers no receive interrupt";
  CountingPoller poller(queue, pool);
  dataplane::WorkerOptions options;
  options.cpu = cpu;
  options.name = "contract-sleep";
  options.idle_loops_before_sleep = 64;
  options.sleep_timeout_ms = 50;
  const auto started = std::chrono::steady_clock::now();
  auto worker = dataplane::Worker::start(options, {&poller});
  ASSERT_TRUE(worker.ok()) << worker.error().describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // idle: it should be asleep
  send(count);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (poller.received() < count && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // idle again
  const auto stats = (*worker)->join();
  const auto wall_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(poller.received(), count) << "frames lost or late while the worker slept";
  EXPECT_TRUE(stats.interrupt_mode);
  EXPECT_GE(stats.sleeps, 2u) << "an idle worker must sleep";
  EXPECT_GE(stats.wakeups, 1u) << "a frame must wake it";
  EXPECT_GE(stats.voluntary_switches, stats.sleeps > 0 ? 1u : 0u);
  // A spinning worker burns all of its wall time; a sleeping one a sliver.
  EXPECT_LT(stats.cpu_time_ns, static_cast<std::uint64_t>(wall_ns) / 2)
      << "cpu " << stats.cpu_time_ns << " ns of " << wall_ns << " ns wall: the worker did not sleep";
}

}  // namespace aether::test::contract
