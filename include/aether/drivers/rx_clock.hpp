// The clock the VFIO drivers stamp receive poll times with
// (net::RxTimestampSource::poll_time): the process's net::RxClock (one
// scale for every backend), used only when it runs on the TSC, so a burst reads the TSC and
// converts, never a syscall. Otherwise (no invariant TSC, e.g. under QEMU
// TCG) the port stamps nothing and says so.
#pragma once

#include <string>

#include <fmt/format.h>

#include "aether/core/clock.hpp"
#include "aether/net/rx_clock.hpp"

namespace aether::drivers {

struct RxClock {
  aether::Clock clock;
  bool stamps = false;  // poll-time timestamps on; false: Packet::timestamp stays 0
  std::string note;     // for PortInfo::notes
};

// The first port of the process blocks ~20 ms (net::RxClock's calibration).
[[nodiscard]] inline RxClock calibrate_rx_clock() {
  RxClock rx;
  rx.clock = net::RxClock::process().clock();
  rx.stamps = rx.clock.source() == aether::ClockSource::tsc;
  rx.note = rx.stamps ? fmt::format("rx timestamps: the poll time (TSC at {:.3f} GHz, in ns), once per burst",
                                    rx.clock.tsc_ghz())
                      : fmt::format("rx timestamps: none ({}; reading the fallback clock per burst could be a "
                                    "syscall)",
                                    rx.clock.fallback_reason());
  return rx;
}

}  // namespace aether::drivers
