#include "aether/net/rx_clock.hpp"

#include <ctime>

namespace aether::net {
namespace {

std::uint64_t realtime_ns() noexcept {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);  // cannot fail for a valid clock id and pointer
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace

const RxClock& RxClock::process() {
  // A function-local static: initialised once, thread-safe (C++11 [stmt.dcl]/4).
  static const RxClock clock;
  return clock;
}

RxClock::RxClock() : clock_(Clock::calibrate(std::chrono::milliseconds(20))) {
  // The offset from the tightest of a few bracketed reads: the TSC read
  // between two wall-clock reads, midpoint taken, narrowest bracket kept
  // (the read least disturbed by an interrupt).
  std::uint64_t best_width = ~std::uint64_t{0};
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::uint64_t before = realtime_ns();
    const std::uint64_t tsc_ns = now_ns();
    const std::uint64_t after = realtime_ns();
    if (after - before < best_width) {
      best_width = after - before;
      realtime_to_tsc_ns_ = tsc_ns - (before + (after - before) / 2);
    }
  }
}

}  // namespace aether::net
