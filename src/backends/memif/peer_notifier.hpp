// PeerNotifier: signals a peer's interrupt eventfds on a thread of its own,
// so that no worker ever writes to a file the peer can make blocking.
//
// Why a thread: O_NONBLOCK is a flag of the open file description, which
// the peer shares (it created the eventfd, or received ours). A peer can
// clear it (fcntl F_SETFL) and fill the counter (write 0xffff...fe); the
// next write(2) then sleeps until the peer reads. eventfd has no per-call
// non-blocking write (RWF_NOWAIT needs ->write_iter, which eventfd lacks).
// So the worker only raises a flag and, if none was pending, wakes this
// thread through a private eventfd nobody else holds (never full: it is
// drained at every wake-up). This thread re-asserts O_NONBLOCK and checks
// room (POLLOUT) before each write; a write a racing peer still manages to
// block stalls only this thread, i.e. only that peer's own interrupts.
// Destruction never waits for it: a thread stuck so is left to finish on
// its own state (shared, freed by whoever ends last).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "aether/core/result.hpp"

namespace aether::backends::memif {

class PeerNotifier {
 public:
  // `queues`: one signal target per queue pair.
  [[nodiscard]] static Result<std::unique_ptr<PeerNotifier>> start(unsigned queues);
  ~PeerNotifier();
  PeerNotifier(const PeerNotifier&) = delete;
  PeerNotifier& operator=(const PeerNotifier&) = delete;

  // Control thread: the eventfd to write for each queue from now on (-1:
  // none). The fds are duplicated: the caller may close its own at once.
  [[nodiscard]] Result<void> set_targets(std::span<const int> event_fds);
  void clear_targets() noexcept;

  // Worker of `queue`: one signal to its peer, soon. No syscall while one is
  // still pending; otherwise one write to the private eventfd (cannot block).
  void request(unsigned queue) noexcept;

  // Signals written / left out (no target, or the peer's counter full).
  [[nodiscard]] std::uint64_t sent(unsigned queue) const noexcept;
  [[nodiscard]] std::uint64_t skipped(unsigned queue) const noexcept;

  struct State;

 private:
  explicit PeerNotifier(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace aether::backends::memif
