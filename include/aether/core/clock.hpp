// Timestamps for measurement loops: the TSC where it is trustworthy, else
// CLOCK_MONOTONIC_RAW. STYLE.md convention 11: take raw ticks on the hot path,
// convert to nanoseconds once, off the hot path.
//
// Reading the clock:
//   tsc_now()          lfence; rdtsc. The lfence keeps the read from being
//                      executed before earlier instructions have completed
//                      locally (Intel SDM Vol. 2B, RDTSC: "If software requires
//                      RDTSC to be executed only after all previous instructions
//                      have executed ... it can execute LFENCE immediately
//                      before RDTSC"). Good enough for "time since the previous
//                      read" loops.
//   tsc_now_ordered()  rdtscp; lfence. RDTSCP waits for all earlier instructions
//                      (loads included) and the trailing lfence keeps later
//                      instructions from starting before the read (SDM, RDTSCP).
//                      Use it to close a timed region.
//   monotonic_raw_ns() clock_gettime(CLOCK_MONOTONIC_RAW): not slewed by NTP;
//                      served by the vDSO without a syscall when the kernel's
//                      clocksource is vDSO-capable (tsc; not hpet/acpi_pm).
//
// On other architectures the tsc_* functions fall back to monotonic_raw_ns(),
// and Clock::calibrate() always picks ClockSource::monotonic_raw.
//
// Hot loops should not branch on the source per read: pick a policy once,
//   if (clock.source() == ClockSource::tsc) loop<TscTicks>(...); else loop<MonotonicTicks>(...);
// and convert the collected tick deltas with clock.to_ns() afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace aether {

inline std::uint64_t monotonic_raw_ns() noexcept {
  timespec now{};
  // Cannot fail for a valid clock id and a valid pointer (clock_gettime(2) ERRORS).
  clock_gettime(CLOCK_MONOTONIC_RAW, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(now.tv_nsec);
}

#if defined(__x86_64__)
inline std::uint64_t tsc_now() noexcept {
  _mm_lfence();
  return __rdtsc();
}

inline std::uint64_t tsc_now_ordered() noexcept {
  unsigned int processor_id;  // IA32_TSC_AUX; unused
  const std::uint64_t ticks = __rdtscp(&processor_id);
  _mm_lfence();
  return ticks;
}
#else
// No TSC: nanoseconds stand in for ticks so that code written against the TSC
// still builds; Clock never selects ClockSource::tsc here.
inline std::uint64_t tsc_now() noexcept { return monotonic_raw_ns(); }
inline std::uint64_t tsc_now_ordered() noexcept { return monotonic_raw_ns(); }
#endif

enum class ClockSource { tsc, monotonic_raw };

// "tsc" or "monotonic_raw".
const char* to_string(ClockSource source) noexcept;

// Tick policies for templated hot loops.
struct TscTicks {
  static std::uint64_t now() noexcept { return tsc_now(); }
};
struct MonotonicTicks {
  static std::uint64_t now() noexcept { return monotonic_raw_ns(); }
};

// A calibrated tick source plus the conversions between its ticks and
// nanoseconds. Cheap to copy; all members are const after calibration.
//
// Precision of to_ns()/from_ns(): they multiply by a 64-bit fixed-point factor
// with 56 fractional bits using a 128-bit product, so there is no intermediate
// overflow for any 64-bit input (a 32-bit intermediate would overflow after
// ~1.9 s of ticks), and the factor carries the full precision of the double
// the rate was calibrated in (relative 2^-53: under 0.001 ns over an hour;
// results are rounded down, so a round trip may lose 1 ns). The accuracy that
// matters is the calibration's: bracketing each TSC read between two clock
// reads ~30 ns apart over a 100 ms window gives an error of the order of
// 1 ppm (60 us over 60 s); calibrate longer for better absolute accuracy.
// Tick differences are exact; only their conversion carries that error.
class Clock {
 public:
  // A MonotonicTicks clock that has not been calibrated (identity conversions);
  // lets owners hold a Clock member before calling calibrate().
  Clock() noexcept;

  // Uses the TSC when CPUID reports an invariant TSC (CPUID.80000007H:EDX[8];
  // Intel SDM Vol. 3B, Time-Stamp Counter, "Invariant TSC"; AMD APM Vol. 3,
  // Fn8000_0007_EDX TscInvariant) and the measured rate is plausible
  // (0.1-10 GHz); otherwise CLOCK_MONOTONIC_RAW, with the reason in
  // fallback_reason() and logged once per process as a warning.
  // Blocks for about `duration` (sleeping, not spinning).
  static Clock calibrate(std::chrono::milliseconds duration = std::chrono::milliseconds(100));

  // As calibrate(), but `wanted` == ClockSource::monotonic_raw forces the
  // fallback (fallback_reason() then says it was requested; nothing is logged).
  // `wanted` == ClockSource::tsc behaves exactly like calibrate().
  static Clock calibrate_with(ClockSource wanted, std::chrono::milliseconds duration = std::chrono::milliseconds(100));

  ClockSource source() const noexcept { return source_; }
  // Why the TSC is not used; empty when it is.
  const std::string& fallback_reason() const noexcept { return fallback_reason_; }

  // Ticks of the chosen source. Branches on the source; hot loops use the
  // TscTicks/MonotonicTicks policies instead.
  std::uint64_t now() const noexcept { return source_ == ClockSource::tsc ? tsc_now() : monotonic_raw_ns(); }

  // Ticks per nanosecond: the TSC frequency in GHz, or exactly 1.0 for monotonic_raw.
  double ticks_per_ns() const noexcept { return ticks_per_ns_; }
  // Calibrated TSC frequency in GHz; 0.0 when the TSC is not the source.
  double tsc_ghz() const noexcept { return source_ == ClockSource::tsc ? ticks_per_ns_ : 0.0; }

  // Tick count <-> nanoseconds (rounded down; saturate at UINT64_MAX).
  std::uint64_t to_ns(std::uint64_t ticks) const noexcept { return scale(ticks, ns_per_tick_fixed_); }
  std::uint64_t from_ns(std::uint64_t ns) const noexcept { return scale(ns, ticks_per_ns_fixed_); }

  // Maps a timestamp of this clock (from now() or the matching policy) to
  // CLOCK_MONOTONIC_RAW nanoseconds, through the (ticks, ns) pair taken at
  // calibration. Stamps before the anchor map backwards; the result saturates at 0.
  std::uint64_t to_monotonic_ns(std::uint64_t tick_stamp) const noexcept;

  // Fixed-point fraction bits of the conversion factors (see class comment).
  static constexpr unsigned fraction_bits = 56;

 private:
  static std::uint64_t scale(std::uint64_t value, std::uint64_t factor_fixed) noexcept;

  ClockSource source_ = ClockSource::monotonic_raw;
  std::string fallback_reason_ = "not calibrated";
  double ticks_per_ns_ = 1.0;
  std::uint64_t ns_per_tick_fixed_ = std::uint64_t{1} << fraction_bits;
  std::uint64_t ticks_per_ns_fixed_ = std::uint64_t{1} << fraction_bits;
  std::uint64_t anchor_ticks_ = 0;  // a tick stamp...
  std::uint64_t anchor_ns_ = 0;     // ...and the CLOCK_MONOTONIC_RAW time it was taken at
};

}  // namespace aether
