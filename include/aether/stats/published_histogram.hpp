// PublishedHistogram: a LatencyHistogram one thread (a worker's poller)
// records into while another (the control thread, for a live telemetry
// series) reads it, with no lock and neither side waiting.
//
// The reader asks for a copy; the writer makes it at its next publish() (one
// copy of the buckets, 58 KiB, and only when asked: at most once per read);
// the reader takes it when it is ready and asks for the next. A read
// therefore shows the histogram as of the writer's poll after the previous
// read. Three histograms: the writer's live one, the hand-over copy, the
// reader's latest copy.
//
// Threading: one writer (live(), publish()) and one reader (latest()). Once
// the writer has stopped (its thread joined), anyone may read live().
#pragma once

#include <atomic>
#include <cstdint>

#include "aether/stats/latency_histogram.hpp"

namespace aether {

class PublishedHistogram {
 public:
  // The writer's histogram: record() into it.
  [[nodiscard]] LatencyHistogram& live() noexcept { return live_; }
  [[nodiscard]] const LatencyHistogram& live() const noexcept { return live_; }

  // Writer, e.g. once per poll: copies live() for the reader if it asked.
  // The copy reuses the hand-over histogram's buckets (same size): no
  // allocation, so it cannot throw.
  void publish() noexcept {
    // acquire: pairs with the reader's release in latest(); the reader is
    // done reading handover_ before it hands it back.
    if (state_.load(std::memory_order_acquire) != State::requested) return;
    handover_ = live_;
    // release: the copy is complete before the reader sees `ready`.
    state_.store(State::ready, std::memory_order_release);
  }

  // Reader: the latest copy the writer published (empty before its first
  // publish()), and a request for the next one.
  [[nodiscard]] const LatencyHistogram& latest() {
    // acquire: pairs with the writer's release in publish().
    const State state = state_.load(std::memory_order_acquire);
    if (state == State::ready) {
      latest_ = handover_;  // the writer leaves handover_ alone until asked again
      // release: this read of handover_ is complete before the writer may
      // overwrite it.
      state_.store(State::requested, std::memory_order_release);
    }
    return latest_;
  }

 private:
  enum class State : std::uint8_t { requested, ready };
  LatencyHistogram live_;
  LatencyHistogram handover_;
  LatencyHistogram latest_;
  std::atomic<State> state_{State::requested};  // the first publish() copies
};

}  // namespace aether
