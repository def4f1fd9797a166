#include "aether/dataplane/poller.hpp"

#include <csignal>

#include <sys/resource.h>

#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "aether/core/thread_setup.hpp"

namespace aether::dataplane {
namespace {

// Interrupt mode's poll(2) set lives on the stack: at most this many queues.
constexpr std::size_t max_interrupt_queues = 16;

}  // namespace

Result<std::unique_ptr<Worker>> Worker::start(const WorkerOptions& options, std::vector<Poller*> pollers,
                                              const std::atomic<bool>* stop_flag) {
  std::unique_ptr<Worker> worker(new Worker());
  worker->options_ = options;
  worker->pollers_ = std::move(pollers);
  worker->external_stop_ = stop_flag;
  // Interrupt mode only if every poller can be woken: one that cannot
  // would starve while the worker sleeps.
  for (Poller* poller : worker->pollers_) {
    net::Queue* queue = poller->rx_queue();
    if (queue == nullptr || queue->rx_interrupt_fd() < 0 || options.idle_loops_before_sleep == 0 ||
        worker->pollers_.size() > max_interrupt_queues) {
      worker->interrupt_queues_.clear();
      break;
    }
    worker->interrupt_queues_.push_back(queue);
  }
  worker->stats_.interrupt_mode = !worker->interrupt_queues_.empty();
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
  // A Ctrl-C or SIGTERM for the process is the control thread's to handle:
  // taken on a worker, its handler would run in the middle of a busy loop
  // (a latency spike), and a thread that never enters the kernel may take
  // it late. Blocked here, the kernel gives it to a thread that does not
  // block it.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
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
  unsigned idle_in_a_row = 0;
  const bool may_sleep = !interrupt_queues_.empty();
  // relaxed: the stop flags carry no data; a late read costs one more loop.
  while (!stop_.load(std::memory_order_relaxed) &&
         (external_stop_ == nullptr || !external_stop_->load(std::memory_order_relaxed))) {
    bool worked = false;
    for (Poller* poller : pollers_) worked |= poller->poll();
    ++loops;
    busy += worked ? 1 : 0;
    // Two plain stores (relaxed, single writer) for telemetry; a scrape
    // reads them whenever it likes and the loop never waits for it.
    counters_.loops.value.store(loops, std::memory_order_relaxed);
    counters_.busy_loops.value.store(busy, std::memory_order_relaxed);
    idle_in_a_row = worked ? 0 : idle_in_a_row + 1;
    if (may_sleep && idle_in_a_row >= options_.idle_loops_before_sleep) {
      sleep_until_interrupt();
      idle_in_a_row = 0;
    }
  }
  timespec cpu_time{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_time);
  stats_.loops = loops;
  stats_.busy_loops = busy;
  stats_.cpu_time_ns = static_cast<std::uint64_t>(cpu_time.tv_sec) * 1'000'000'000 + static_cast<std::uint64_t>(cpu_time.tv_nsec);
  rusage usage{};
  if (getrusage(RUSAGE_THREAD, &usage) == 0) {
    stats_.involuntary_switches = static_cast<std::uint64_t>(usage.ru_nivcsw);
    stats_.voluntary_switches = static_cast<std::uint64_t>(usage.ru_nvcsw);
  }
}

void Worker::sleep_until_interrupt() noexcept {
  for (net::Queue* queue : interrupt_queues_) queue->set_rx_interrupt(true);
  // One more look with interrupts on: a frame that arrived before they
  // were on raised none, and would wait for the next one.
  bool worked = false;
  for (Poller* poller : pollers_) worked |= poller->poll();
  if (!worked) {
    pollfd fds[max_interrupt_queues];
    nfds_t count = 0;
    for (net::Queue* queue : interrupt_queues_) {
      fds[count++] = pollfd{queue->rx_interrupt_fd(), POLLIN, 0};
    }
    ++stats_.sleeps;
    if (::poll(fds, count, options_.sleep_timeout_ms) > 0) {
      ++stats_.wakeups;
      for (nfds_t i = 0; i < count; ++i) {
        std::uint64_t interrupts = 0;  // eventfd: reading resets its count
        if ((fds[i].revents & POLLIN) != 0) (void)::read(fds[i].fd, &interrupts, sizeof(interrupts));
      }
    }
  }
  for (net::Queue* queue : interrupt_queues_) queue->set_rx_interrupt(false);
}

}  // namespace aether::dataplane
