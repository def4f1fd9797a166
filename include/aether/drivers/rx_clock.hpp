// The clock the VFIO drivers stamp receive poll times with
// (net::RxTimestampSource::poll_time): calibrated once per port at open,
// and used only when it runs on the TSC, so a burst reads the TSC and
// converts, never a syscall. Otherwise (no invariant TSC, e.g. under QEMU
// TCG) the port stamps nothing and says so.
#pragma once

#include <chrono>
#include <string>

#include <fmt/format.h>

#include "aether/core/clock.hpp"

namespace aether::drivers {

struct RxClock {
  aether::Clock clock;
  bool stamps = false;  // poll-time timestamps on; false: Packet::timestamp stays 0
  std::string note;     // for PortInfo::notes
};

// Blocks ~20 ms (the calibration window: a rate error of a few ppm).
[[nodiscard]] inline RxClock calibrate_rx_clock() {
  RxClock rx;
  rx.clock = aether::Clock::calibrate(std::chrono::milliseconds(20));
  rx.stamps = rx.clock.source() == aether::ClockSource::tsc;
  rx.note = rx.stamps ? fmt::format("rx timestamps: the poll time (TSC at {:.3f} GHz, in ns), once per burst",
                                    rx.clock.tsc_ghz())
                      : fmt::format("rx timestamps: none ({}; reading the fallback clock per burst could be a "
                                    "syscall)",
                                    rx.clock.fallback_reason());
  return rx;
}

}  // namespace aether::drivers
