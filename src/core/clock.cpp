// Clock calibration: choosing the TSC or CLOCK_MONOTONIC_RAW and measuring the
// TSC rate against CLOCK_MONOTONIC_RAW.
#include "aether/core/clock.hpp"

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "aether/core/log.hpp"

namespace aether {
namespace {

// Plausible TSC rates: 100 MHz .. 10 GHz. Outside, calibration went wrong
// (e.g. the process was stopped between the two samples) and the TSC is not used.
constexpr double min_plausible_ticks_per_ns = 0.1;
constexpr double max_plausible_ticks_per_ns = 10.0;

// A TSC read bracketed by two CLOCK_MONOTONIC_RAW reads. The TSC read is
// assumed to sit at the midpoint; the error is at most half the bracket width.
struct ClockPair {
  std::uint64_t ticks = 0;
  std::uint64_t ns = 0;
  std::uint64_t bracket_ns = std::numeric_limits<std::uint64_t>::max();
};

// Keeps the tightest of several brackets: an interrupt or a vCPU preemption
// widens the bracket it lands in, and the tightest one is the least disturbed.
ClockPair tightest_clock_pair() noexcept {
  constexpr int attempts = 64;
  ClockPair best;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    const std::uint64_t before = monotonic_raw_ns();
    const std::uint64_t ticks = tsc_now_ordered();
    const std::uint64_t after = monotonic_raw_ns();
    if (after - before < best.bracket_ns) best = ClockPair{ticks, before + (after - before) / 2, after - before};
  }
  return best;
}

#if defined(__x86_64__)
// CPUID.80000007H:EDX[8]: "TscInvariant" (AMD APM Vol. 3, CPUID Fn8000_0007_EDX)
// / "Invariant TSC available" (Intel SDM Vol. 2A, CPUID, Table 3-8): the TSC
// runs at a constant rate in all P-, C- and T-states.
bool has_invariant_tsc() noexcept {
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (static_cast<unsigned>(__get_cpuid_max(0x80000000u, nullptr)) < 0x80000007u) return false;
  if (!__get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx)) return false;
  return (edx & (1u << 8)) != 0;
}

// CPUID leaf 15H: TSC frequency = crystal Hz (ECX) * EBX / EAX (Intel SDM
// Vol. 2A, CPUID, "Time Stamp Counter and Nominal Core Crystal Clock
// Information Leaf"). 0 when the leaf or the crystal frequency is not reported,
// which is common under hypervisors.
double cpuid_nominal_ticks_per_ns() noexcept {
  unsigned int denominator = 0, numerator = 0, crystal_hz = 0, unused = 0;
  if (static_cast<unsigned>(__get_cpuid_max(0, nullptr)) < 0x15u) return 0.0;
  if (!__get_cpuid_count(0x15u, 0, &denominator, &numerator, &crystal_hz, &unused)) return 0.0;
  if (denominator == 0 || numerator == 0 || crystal_hz == 0) return 0.0;
  return static_cast<double>(crystal_hz) * numerator / denominator / 1e9;
}
#endif

void warn_once(const std::string& reason) {
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) log::warn("clock: using CLOCK_MONOTONIC_RAW instead of the TSC: {}", reason);
}

// Both factors are at most max_plausible_ticks_per_ns, so the fixed-point
// value fits llround's signed 64-bit result.
static_assert(max_plausible_ticks_per_ns * static_cast<double>(std::uint64_t{1} << Clock::fraction_bits) < 9.2e18);

std::uint64_t to_fixed(double factor) noexcept {
  return static_cast<std::uint64_t>(std::llround(std::ldexp(factor, static_cast<int>(Clock::fraction_bits))));
}

}  // namespace

const char* to_string(ClockSource source) noexcept {
  return source == ClockSource::tsc ? "tsc" : "monotonic_raw";
}

Clock::Clock() noexcept = default;

Clock Clock::calibrate(std::chrono::milliseconds duration) { return calibrate_with(ClockSource::tsc, duration); }

Clock Clock::calibrate_with(ClockSource wanted, std::chrono::milliseconds duration) {
  Clock clock;  // monotonic_raw, identity conversions, anchor (0, 0)
  if (wanted == ClockSource::monotonic_raw) {
    clock.fallback_reason_ = "CLOCK_MONOTONIC_RAW requested by the caller";
    return clock;
  }
#if !defined(__x86_64__)
  (void)duration;
  clock.fallback_reason_ = "not an x86-64 build: no TSC";
  warn_once(clock.fallback_reason_);
  return clock;
#else
  if (!has_invariant_tsc()) {
    clock.fallback_reason_ =
        "CPUID.80000007H:EDX[8] (invariant TSC) is clear, so the TSC rate may change with power states "
        "(hypervisors often hide the bit: QEMU/KVM needs -cpu ...,+invtsc)";
    warn_once(clock.fallback_reason_);
    return clock;
  }

  const ClockPair start = tightest_clock_pair();
  std::this_thread::sleep_for(duration);
  const ClockPair end = tightest_clock_pair();

  // Unsigned differences: a TSC that went backwards (unsynchronised sockets
  // after a migration) shows up as a huge or zero rate and is rejected below.
  const double elapsed_ns = static_cast<double>(end.ns - start.ns);
  const double elapsed_ticks = static_cast<double>(end.ticks - start.ticks);
  const double ticks_per_ns = elapsed_ns > 0 ? elapsed_ticks / elapsed_ns : 0.0;
  if (!(ticks_per_ns >= min_plausible_ticks_per_ns && ticks_per_ns <= max_plausible_ticks_per_ns)) {
    clock.fallback_reason_ = fmt::format("TSC calibration gave an implausible {:.4f} ticks/ns over {} ns", ticks_per_ns,
                                         end.ns - start.ns);
    warn_once(clock.fallback_reason_);
    return clock;
  }

  clock.source_ = ClockSource::tsc;
  clock.fallback_reason_.clear();
  clock.ticks_per_ns_ = ticks_per_ns;
  clock.ns_per_tick_fixed_ = to_fixed(1.0 / ticks_per_ns);
  clock.ticks_per_ns_fixed_ = to_fixed(ticks_per_ns);
  clock.anchor_ticks_ = end.ticks;
  clock.anchor_ns_ = end.ns;

  const double half_brackets_ns = static_cast<double>(start.bracket_ns + end.bracket_ns) / 2;
  log::debug("clock: TSC {:.6f} GHz, calibrated over {} ns, uncertainty about {:.2f} ppm", ticks_per_ns,
             end.ns - start.ns, half_brackets_ns / elapsed_ns * 1e6);
  if (const double nominal = cpuid_nominal_ticks_per_ns(); nominal > 0) {
    // A disagreement beyond 1% means the calibration was disturbed or CPUID is
    // wrong (seen under hypervisors); the measured rate is kept either way.
    if (std::fabs(nominal - ticks_per_ns) > 0.01 * nominal) {
      log::warn("clock: calibrated TSC rate {:.6f} GHz differs from CPUID leaf 15H's {:.6f} GHz by more than 1%",
                ticks_per_ns, nominal);
    }
  }
  return clock;
#endif
}

std::uint64_t Clock::scale(std::uint64_t value, std::uint64_t factor_fixed) noexcept {
  // 64x64->128-bit product: exact for every input, so no overflow however long the span.
  __extension__ using Uint128 = unsigned __int128;
  const Uint128 product = static_cast<Uint128>(value) * factor_fixed;
  const Uint128 result = product >> fraction_bits;
  if (result > std::numeric_limits<std::uint64_t>::max()) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(result);
}

std::uint64_t Clock::to_monotonic_ns(std::uint64_t tick_stamp) const noexcept {
  if (tick_stamp >= anchor_ticks_) {
    const std::uint64_t after = to_ns(tick_stamp - anchor_ticks_);
    const std::uint64_t headroom = std::numeric_limits<std::uint64_t>::max() - anchor_ns_;
    return after > headroom ? std::numeric_limits<std::uint64_t>::max() : anchor_ns_ + after;
  }
  const std::uint64_t before = to_ns(anchor_ticks_ - tick_stamp);
  return before > anchor_ns_ ? 0 : anchor_ns_ - before;
}

}  // namespace aether
