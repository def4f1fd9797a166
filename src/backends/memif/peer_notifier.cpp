// PeerNotifier: the thread that writes the peers' interrupt eventfds.
#include "peer_notifier.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "aether/net/port.hpp"
#include "file_descriptor.hpp"

namespace aether::backends::memif {
namespace {

// How long the destructor waits for the thread before leaving it behind
// (only a peer that won the race described in the header makes it wait).
constexpr auto kStopWait = std::chrono::milliseconds(200);

// One signal to a peer's eventfd, never sleeping on it unless the peer
// races us between the checks and the write.
bool signal_peer(int fd) noexcept {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return false;
  if ((flags & O_NONBLOCK) == 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return false;
  pollfd room{fd, POLLOUT, 0};
  if (::poll(&room, 1, 0) != 1 || (room.revents & POLLOUT) == 0) return false;  // counter full
  const std::uint64_t one = 1;
  return ::write(fd, &one, sizeof(one)) == sizeof(one);
}

}  // namespace

struct PeerNotifier::State {
  explicit State(unsigned queues) : pending(queues), sent(queues), skipped(queues) {}

  FileDescriptor wake;                               // private: only this process holds it
  std::vector<std::atomic<bool>> pending;            // per queue: a signal was asked for
  std::vector<net::QueueCounters::Counter> sent;     // written by the thread only
  std::vector<net::QueueCounters::Counter> skipped;  // written by the thread only
  std::mutex mutex;                                  // guards targets
  std::shared_ptr<const std::vector<FileDescriptor>> targets;
  std::atomic<bool> stopping{false};
  std::mutex finished_mutex;
  std::condition_variable finished_changed;
  bool finished = false;  // guarded by finished_mutex

  void run() {
    while (!stopping.load(std::memory_order_acquire)) {
      pollfd woken{wake.get(), POLLIN, 0};
      if (::poll(&woken, 1, -1) < 0) continue;  // EINTR
      std::uint64_t value = 0;
      (void)!::read(wake.get(), &value, sizeof(value));
      std::shared_ptr<const std::vector<FileDescriptor>> current;
      {
        std::lock_guard lock(mutex);
        current = targets;
      }
      for (std::size_t q = 0; q < pending.size(); ++q) {
        // Acquire/release: pairs with request(); a request after this
        // exchange writes `wake` again, so none is lost.
        if (!pending[q].exchange(false, std::memory_order_acq_rel)) continue;
        const int fd = current && q < current->size() ? (*current)[q].get() : -1;
        if (fd >= 0 && signal_peer(fd)) {
          sent[q].add(1);
        } else {
          skipped[q].add(1);
        }
      }
    }
    std::lock_guard lock(finished_mutex);
    finished = true;
    finished_changed.notify_all();
  }
};

Result<std::unique_ptr<PeerNotifier>> PeerNotifier::start(unsigned queues) {
  auto state = std::make_shared<State>(queues);
  state->wake = FileDescriptor(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!state->wake.valid()) return errno_error("eventfd for the memif interrupt thread failed");
  // The thread shares the state: if a peer ever blocks it, it outlives us.
  std::thread([state] { state->run(); }).detach();
  return std::unique_ptr<PeerNotifier>(new PeerNotifier(std::move(state)));
}

PeerNotifier::~PeerNotifier() {
  state_->stopping.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  (void)!::write(state_->wake.get(), &one, sizeof(one));
  std::unique_lock lock(state_->finished_mutex);
  (void)state_->finished_changed.wait_for(lock, kStopWait, [this] { return state_->finished; });
}

Result<void> PeerNotifier::set_targets(std::span<const int> event_fds) {
  auto targets = std::make_shared<std::vector<FileDescriptor>>();
  for (const int fd : event_fds) {
    targets->emplace_back(fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1);
    if (fd >= 0 && !targets->back().valid()) return errno_error("dup of a memif interrupt fd failed");
  }
  std::lock_guard lock(state_->mutex);
  state_->targets = std::move(targets);
  return {};
}

void PeerNotifier::clear_targets() noexcept {
  std::shared_ptr<const std::vector<FileDescriptor>> old;
  std::lock_guard lock(state_->mutex);
  old = std::move(state_->targets);
}

void PeerNotifier::request(unsigned queue) noexcept {
  std::atomic<bool>& pending = state_->pending[queue];
  // A plain load first: while a signal is pending, no locked instruction.
  if (pending.load(std::memory_order_relaxed) || pending.exchange(true, std::memory_order_acq_rel)) return;
  const std::uint64_t one = 1;
  (void)!::write(state_->wake.get(), &one, sizeof(one));
}

std::uint64_t PeerNotifier::sent(unsigned queue) const noexcept { return state_->sent[queue].get(); }
std::uint64_t PeerNotifier::skipped(unsigned queue) const noexcept { return state_->skipped[queue].get(); }

}  // namespace aether::backends::memif
