// A run-to-completion loop: one pinned thread per core polls its pollers in
// turn, forever, until told to stop. No syscall, allocation or lock in the
// loop itself; what a poller does per burst is its own contract.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "aether/core/cache_line.hpp"
#include "aether/core/result.hpp"
#include "aether/net/port.hpp"

namespace aether::dataplane {

// Something the loop calls. poll() does at most one burst of work and says
// whether it did any (Seastar's poller contract): idle loops can be counted.
// Each poller starts on a cache line of its own and fills whole lines
// (alignas on the base carries to every derived class): the state one
// worker writes per burst never shares a line with another worker's poller,
// wherever the two were allocated (on one stack, side by side on the heap).
class alignas(cache_line_size) Poller {
 public:
  virtual ~Poller() = default;
  virtual bool poll() noexcept = 0;
  // The queue whose arrivals give this poller work, if any: when every
  // poller's queue offers a receive interrupt (net::Queue::rx_interrupt_fd),
  // an idle worker sleeps on them instead of spinning.
  [[nodiscard]] virtual net::Queue* rx_queue() const noexcept { return nullptr; }
};

struct WorkerOptions {
  unsigned cpu = 0;
  std::optional<int> fifo_priority;
  std::string name = "aether-worker";
  // Interrupt mode, used only when every poller's rx_queue() has an
  // interrupt fd: after this many loops in a row without work, the worker
  // turns the queues' interrupts on, polls once more (a frame may have come
  // in meanwhile), and sleeps in poll(2) until an interrupt or
  // sleep_timeout_ms (so that stop() is seen); awake, interrupts go off
  // again and it busy-polls. 0: never sleep.
  unsigned idle_loops_before_sleep = 4096;
  int sleep_timeout_ms = 100;
};

struct WorkerStats {
  std::uint64_t loops = 0;       // iterations of the loop
  std::uint64_t busy_loops = 0;  // iterations in which some poller did work
  std::uint64_t cpu_time_ns = 0; // CLOCK_THREAD_CPUTIME_ID at the end
  // getrusage(RUSAGE_THREAD) at the end: a busy-polling worker that was
  // preempted (involuntary) shared its CPU with something runnable; one that
  // blocked (voluntary) slept in interrupt mode or made a blocking call.
  std::uint64_t involuntary_switches = 0;
  std::uint64_t voluntary_switches = 0;
  std::uint64_t sleeps = 0;      // interrupt mode: times the worker slept
  std::uint64_t wakeups = 0;     // ... and woke up because an interrupt came
  bool interrupt_mode = false;   // every poller's queue offered an interrupt
};

// The live loop counters, for telemetry: written by the worker thread every
// iteration (single writer, relaxed stores, see net::QueueCounters), read by
// anyone. busy_loops / loops over an interval is the worker's busy share.
struct alignas(cache_line_size) WorkerCounters {
  net::QueueCounters::Counter loops;
  net::QueueCounters::Counter busy_loops;
};

// One pinned thread running `pollers` until stop() or `stop_flag` turns true.
// The pollers must outlive the worker. The loop writes counters_ every
// iteration: they have a line of their own, and the object is line-aligned
// so that two workers allocated side by side do not share one.
class alignas(cache_line_size) Worker {
 public:
  // Starts the thread; returns once it is pinned and polling, or with the
  // reason it could not pin.
  static Result<std::unique_ptr<Worker>> start(const WorkerOptions& options, std::vector<Poller*> pollers,
                                               const std::atomic<bool>* stop_flag = nullptr);
  ~Worker();  // stops and joins
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void stop() noexcept;
  [[nodiscard]] const WorkerCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] unsigned cpu() const noexcept { return options_.cpu; }
  [[nodiscard]] const std::string& name() const noexcept { return options_.name; }
  // Joins the thread and returns its statistics.
  WorkerStats join();

 private:
  Worker() = default;
  void run() noexcept;
  // Interrupt mode: interrupts on, one more look, poll(2), interrupts off.
  void sleep_until_interrupt() noexcept;

  WorkerOptions options_;
  std::vector<Poller*> pollers_;
  std::vector<net::Queue*> interrupt_queues_;  // non-empty: interrupt mode
  const std::atomic<bool>* external_stop_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<int> state_{0};  // 0 starting, 1 running, -1 failed
  std::optional<Error> start_error_;
  WorkerStats stats_;
  WorkerCounters counters_;  // alignas(cache_line_size): written every loop
  std::thread thread_;
};

static_assert(alignof(Poller) == cache_line_size && sizeof(Poller) % cache_line_size == 0,
              "pollers of different workers never share a cache line");
static_assert(sizeof(WorkerCounters) == cache_line_size, "a worker's loop counters fill one line");

}  // namespace aether::dataplane
