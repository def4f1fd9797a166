// Worker interrupt mode: an idle worker whose pollers' queues all offer a
// receive interrupt sleeps on it, and work signalled through the eventfd
// still gets done. The queue is a stand-in for a NIC queue in interrupt
// mode: a real eventfd, an "armed" flag, arrivals counted by the test.
// Nothing here depends on timing: waits are for states, with a generous
// bound only so that a broken worker fails instead of hanging.
#include <sys/eventfd.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "aether/core/unique_fd.hpp"
#include "aether/dataplane/poller.hpp"

namespace aether::dataplane {
namespace {

class InterruptQueue final : public net::Queue {
 public:
  explicit InterruptQueue(bool offers_interrupt)
      : fd_(offers_interrupt ? ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1) {}
  unsigned rx_burst(std::span<net::Packet*>) noexcept override { return 0; }
  unsigned tx_burst(std::span<net::Packet*>) noexcept override { return 0; }
  [[nodiscard]] int rx_interrupt_fd() const noexcept override { return fd_.get(); }
  void set_rx_interrupt(bool enabled) noexcept override {
    armed.store(enabled);  // seq_cst: a store then a load on each side (Dekker), as the real device needs a fence
    if (enabled) arms.fetch_add(1, std::memory_order_relaxed);
  }
  // The "device": a frame arrives, and interrupts if armed.
  void arrive() {
    arrivals.fetch_add(1);
    if (armed.load()) {
      const std::uint64_t one = 1;
      ASSERT_EQ(::write(fd_.get(), &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
    }
  }

  std::atomic<unsigned> arrivals{0};
  std::atomic<bool> armed{false};
  std::atomic<unsigned> arms{0};

 private:
  UniqueFd fd_;
};

class ArrivalPoller final : public Poller {
 public:
  explicit ArrivalPoller(InterruptQueue& queue) : queue_(queue) {}
  bool poll() noexcept override {
    const unsigned seen = queue_.arrivals.load();
    if (seen == handled.load(std::memory_order_relaxed)) return false;
    handled.store(seen, std::memory_order_release);
    return true;
  }
  [[nodiscard]] net::Queue* rx_queue() const noexcept override { return &queue_; }
  std::atomic<unsigned> handled{0};

 private:
  InterruptQueue& queue_;
};

template <class Predicate>
bool wait_for(Predicate predicate) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

WorkerOptions options_for_test() {
  WorkerOptions options;
  options.cpu = 0;
  options.idle_loops_before_sleep = 64;
  options.sleep_timeout_ms = 20;
  return options;
}

TEST(WorkerInterruptMode, SleepsWhenIdleAndStillDoesTheWorkAnInterruptAnnounces) {
  InterruptQueue queue(true);
  ArrivalPoller poller(queue);
  auto worker = Worker::start(options_for_test(), {&poller});
  ASSERT_TRUE(worker) << worker.error().describe();
  ASSERT_TRUE(wait_for([&] { return queue.arms.load() > 0; })) << "the idle worker never armed the interrupt";
  for (unsigned i = 1; i <= 3; ++i) {
    queue.arrive();
    ASSERT_TRUE(wait_for([&] { return poller.handled.load() == i; })) << "arrival " << i << " was not handled";
  }
  const WorkerStats stats = (*worker)->join();
  EXPECT_TRUE(stats.interrupt_mode);
  EXPECT_GE(stats.sleeps, 1U);
  EXPECT_FALSE(queue.armed.load()) << "interrupts left on after waking";
}

TEST(WorkerInterruptMode, BusyPollsWhenAQueueHasNoInterrupt) {
  InterruptQueue with(true), without(false);
  ArrivalPoller first(with), second(without);
  auto worker = Worker::start(options_for_test(), {&first, &second});
  ASSERT_TRUE(worker) << worker.error().describe();
  without.arrive();
  ASSERT_TRUE(wait_for([&] { return second.handled.load() == 1; }));
  const WorkerStats stats = (*worker)->join();
  EXPECT_FALSE(stats.interrupt_mode);
  EXPECT_EQ(stats.sleeps, 0U);
  EXPECT_EQ(with.arms.load(), 0U);
}

}  // namespace
}  // namespace aether::dataplane
