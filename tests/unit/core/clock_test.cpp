#include "aether/core/clock.hpp"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace aether {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t one_second_ns = 1'000'000'000;

// Sanity only: unit tests assert no timings (those live in bench/).
TEST(Clock, CalibrationGivesAPlausibleSource) {
  const Clock clock = Clock::calibrate(20ms);
  if (clock.source() == ClockSource::tsc) {
    EXPECT_TRUE(clock.fallback_reason().empty());
    EXPECT_GT(clock.ticks_per_ns(), 0.1);
    EXPECT_LT(clock.ticks_per_ns(), 10.0);
    EXPECT_DOUBLE_EQ(clock.tsc_ghz(), clock.ticks_per_ns());
  } else {
    EXPECT_FALSE(clock.fallback_reason().empty());
    EXPECT_EQ(clock.ticks_per_ns(), 1.0);
  }
  const std::uint64_t first = clock.now();
  const std::uint64_t second = clock.now();
  EXPECT_GE(second, first);
}

TEST(Clock, ForcedFallbackUsesMonotonicRaw) {
  const Clock clock = Clock::calibrate_with(ClockSource::monotonic_raw, 1ms);
  EXPECT_EQ(clock.source(), ClockSource::monotonic_raw);
  EXPECT_NE(clock.fallback_reason().find("requested"), std::string::npos) << clock.fallback_reason();
  EXPECT_EQ(clock.ticks_per_ns(), 1.0);
  EXPECT_EQ(clock.tsc_ghz(), 0.0);
  // Identity conversions, exact.
  for (std::uint64_t value : {std::uint64_t{0}, std::uint64_t{1}, 60 * one_second_ns, 3600 * one_second_ns,
                              std::numeric_limits<std::uint64_t>::max()}) {
    EXPECT_EQ(clock.to_ns(value), value);
    EXPECT_EQ(clock.from_ns(value), value);
    EXPECT_EQ(clock.to_monotonic_ns(value), value);
  }
  // now() reads CLOCK_MONOTONIC_RAW directly.
  const std::uint64_t before = monotonic_raw_ns();
  const std::uint64_t reading = clock.now();
  const std::uint64_t after = monotonic_raw_ns();
  EXPECT_LE(before, reading);
  EXPECT_LE(reading, after);
}

TEST(Clock, DefaultConstructedIsAnUncalibratedMonotonicClock) {
  const Clock clock;
  EXPECT_EQ(clock.source(), ClockSource::monotonic_raw);
  EXPECT_FALSE(clock.fallback_reason().empty());
  EXPECT_EQ(clock.to_ns(12345), 12345u);
}

class CalibratedClock : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { clock_ = Clock::calibrate(20ms); }
  static Clock clock_;
};
Clock CalibratedClock::clock_;

TEST_F(CalibratedClock, RoundTripsNanosecondsOverLongSpans) {
  // 60 s and 1 h of ticks are far beyond 32 bits; the round trip must lose at
  // most the rounding of the two conversions (a couple of ticks' worth of ns).
  for (std::uint64_t span_ns : {std::uint64_t{1}, std::uint64_t{1000}, one_second_ns, 60 * one_second_ns,
                                3600 * one_second_ns}) {
    const std::uint64_t ticks = clock_.from_ns(span_ns);
    const std::uint64_t back = clock_.to_ns(ticks);
    const double tolerance_ns = 2.0 / clock_.ticks_per_ns() + 1.0;
    EXPECT_NEAR(static_cast<double>(back), static_cast<double>(span_ns), tolerance_ns) << span_ns;
    // And agrees with plain floating-point arithmetic to 1e-9 relative.
    EXPECT_NEAR(static_cast<double>(ticks), static_cast<double>(span_ns) * clock_.ticks_per_ns(),
                1.0 + 1e-9 * static_cast<double>(span_ns) * clock_.ticks_per_ns())
        << span_ns;
  }
}

TEST_F(CalibratedClock, ConversionsSaturateInsteadOfWrapping) {
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  // Whichever direction scales up must saturate; the other must stay below max.
  const std::uint64_t up = clock_.ticks_per_ns() >= 1.0 ? clock_.from_ns(max) : clock_.to_ns(max);
  EXPECT_EQ(up, max);
  EXPECT_GT(clock_.to_ns(max / 2), 0u);
}

TEST_F(CalibratedClock, MapsTickStampsToMonotonicRaw) {
  const std::uint64_t before = monotonic_raw_ns();
  const std::uint64_t stamp = clock_.now();
  const std::uint64_t after = monotonic_raw_ns();
  const std::uint64_t mapped = clock_.to_monotonic_ns(stamp);
  // Calibration error over the short time since calibration is far below 1 ms;
  // this only catches a wrong anchor or sign.
  EXPECT_GT(mapped + 1'000'000, before);
  EXPECT_LT(mapped, after + 1'000'000);
  // Earlier stamps map to earlier times, monotonically.
  EXPECT_LE(clock_.to_monotonic_ns(stamp - clock_.from_ns(1000)), mapped);
  EXPECT_LE(clock_.to_monotonic_ns(0), mapped);
}

TEST(Clock, TickPoliciesReadTheirSources) {
  const std::uint64_t before = monotonic_raw_ns();
  const std::uint64_t reading = MonotonicTicks::now();
  EXPECT_LE(before, reading);
  // No ordering between two TSC reads is asserted: the thread may migrate
  // between them, and TSCs are not synchronised across CPUs everywhere.
  EXPECT_GT(TscTicks::now(), 0u);
  EXPECT_GT(tsc_now_ordered(), 0u);
  EXPECT_STREQ(to_string(ClockSource::tsc), "tsc");
  EXPECT_STREQ(to_string(ClockSource::monotonic_raw), "monotonic_raw");
}

}  // namespace
}  // namespace aether
