// RxClock: the one clock of Packet::timestamp on receive (the port contract,
// docs/runtime.md "The port contract"): nanoseconds on core::Clock's
// TSC-derived scale, calibrated once per process.
//
// A backend stamps either the poll time (now_ns(), one TSC read per burst
// that returned frames) or a kernel timestamp taken on CLOCK_REALTIME
// (SO_TIMESTAMPNS, tpacket's tp_sec/tp_nsec) mapped onto the same scale with
// from_realtime_ns(). That mapping is an offset measured once, at
// calibration: a later step of the wall clock (settimeofday, an NTP step)
// shifts kernel timestamps against poll times by the step; slewing drifts
// them by its rate (ppm). Differences between two stamps of one source are
// exact to the clock's calibration.
#pragma once

#include <cstdint>

#include "aether/core/clock.hpp"

namespace aether::net {

class RxClock {
 public:
  // The process's clock; calibrated on first use (blocks ~20 ms once, on
  // the control path: ports take it when they open).
  static const RxClock& process();

  // Now, in TSC-derived nanoseconds. Data path: no syscall on the TSC.
  [[nodiscard]] std::uint64_t now_ns() const noexcept { return clock_.to_ns(clock_.now()); }

  // A CLOCK_REALTIME timestamp in nanoseconds mapped onto now_ns()'s scale.
  // Unsigned wrap-around: the offset may be "negative".
  [[nodiscard]] std::uint64_t from_realtime_ns(std::uint64_t realtime_ns) const noexcept {
    return realtime_ns + realtime_to_tsc_ns_;
  }

  [[nodiscard]] const Clock& clock() const noexcept { return clock_; }

 private:
  RxClock();

  Clock clock_;
  std::uint64_t realtime_to_tsc_ns_ = 0;  // now_ns() - CLOCK_REALTIME, modulo 2^64
};

}  // namespace aether::net
