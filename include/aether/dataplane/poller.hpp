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

#include "aether/core/result.hpp"

namespace aether::dataplane {

// Something the loop calls. poll() does at most one burst of work and says
// whether it did any (Seastar's poller contract): idle loops can be counted.
class Poller {
 public:
  virtual ~Poller() = default;
  virtual bool poll() noexcept = 0;
};

struct WorkerOptions {
  unsigned cpu = 0;
  std::optional<int> fifo_priority;
  std::string name = "aether-worker";
};

struct WorkerStats {
  std::uint64_t loops = 0;       // iterations of the loop
  std::uint64_t busy_loops = 0;  // iterations in which some poller did work
  std::uint64_t cpu_time_ns = 0; // CLOCK_THREAD_CPUTIME_ID at the end
};

// One pinned thread running `pollers` until stop() or `stop_flag` turns true.
// The pollers must outlive the worker.
class Worker {
 public:
  // Starts the thread; returns once it is pinned and polling, or with the
  // reason it could not pin.
  static Result<std::unique_ptr<Worker>> start(const WorkerOptions& options, std::vector<Poller*> pollers,
                                               const std::atomic<bool>* stop_flag = nullptr);
  ~Worker();  // stops and joins
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void stop() noexcept;
  // Joins the thread and returns its statistics.
  WorkerStats join();

 private:
  Worker() = default;
  void run() noexcept;

  WorkerOptions options_;
  std::vector<Poller*> pollers_;
  const std::atomic<bool>* external_stop_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<int> state_{0};  // 0 starting, 1 running, -1 failed
  std::optional<Error> start_error_;
  WorkerStats stats_;
  std::thread thread_;
};

}  // namespace aether::dataplane
