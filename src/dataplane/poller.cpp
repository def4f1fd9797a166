#include "aether/dataplane/poller.hpp"

#include <pthread.h>
#include <time.h>

#include "aether/core/thread_setup.hpp"

namespace aether::dataplane {

Result<std::unique_ptr<Worker>> Worker::start(const WorkerOptions& options, std::vector<Poller*> pollers,
                                              const std::atomic<bool>* stop_flag) {
  std::unique_ptr<Worker> worker(new Worker());
  worker->options_ = options;
  worker->pollers_ = std::move(pollers);
  worker->external_stop_ = stop_flag;
  Worker* self = worker.get();
  worker->thread_ = std::thread([self] { self->run(); });
  // acquire: pairs with run()'s release store, which publishes start_error_.
  while (worker->state_.load(std::memory_order_acquire) == 0) std::this_thread::yield();
  if (worker->state_.load(std::memory_order_acquire) < 0) {
    worker->thread_.join();
    return *worker->start_error_;
  }
  return worker;
}

Worker::~Worker() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void Worker::stop() noexcept { stop_.store(true, std::memory_order_relaxed); }

WorkerStats Worker::join() {
  stop();
  if (thread_.joinable()) thread_.join();
  return stats_;
}

void Worker::run() noexcept {
  pthread_setname_np(pthread_self(), options_.name.substr(0, 15).c_str());
  CoreSetupOptions setup;
  setup.cpu = options_.cpu;
  setup.fifo_priority = options_.fifo_priority;
  setup.lock_memory = false;  // process-wide; the caller decides
  if (auto ready = setup_current_core(setup); !ready) {
    start_error_ = ready.error();
    state_.store(-1, std::memory_order_release);
    return;
  }
  state_.store(1, std::memory_order_release);
  std::uint64_t loops = 0;
  std::uint64_t busy = 0;
  // relaxed: the stop flags carry no data; a late read costs one more loop.
  while (!stop_.load(std::memory_order_relaxed) &&
         (external_stop_ == nullptr || !external_stop_->load(std::memory_order_relaxed))) {
    bool worked = false;
    for (Poller* poller : pollers_) worked |= poller->poll();
    ++loops;
    busy += worked ? 1 : 0;
  }
  timespec cpu_time{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_time);
  stats_.loops = loops;
  stats_.busy_loops = busy;
  stats_.cpu_time_ns = static_cast<std::uint64_t>(cpu_time.tv_sec) * 1'000'000'000 + static_cast<std::uint64_t>(cpu_time.tv_nsec);
}

}  // namespace aether::dataplane
