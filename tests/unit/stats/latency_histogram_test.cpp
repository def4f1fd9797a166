// LatencyHistogram: bucket geometry, bookkeeping (count/min/max/mean),
// merge/reset/copy/move, extreme values and the nearest-rank definition.
// Accuracy against sorted data is in latency_histogram_accuracy_test.cpp.
#include "aether/stats/latency_histogram.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace aether {
namespace {

constexpr std::uint64_t kMaxValue = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kSixtySecondsNs = 60'000'000'000;

TEST(LatencyHistogramGeometry, BucketsTileTheWholeRangeWithoutGaps) {
  using H = LatencyHistogram;
  EXPECT_EQ(H::bucket_index(0), 0U);
  EXPECT_EQ(H::bucket_lower(0), 0U);
  EXPECT_EQ(H::bucket_upper(H::kBucketCount - 1), kMaxValue);
  EXPECT_EQ(H::bucket_index(kMaxValue), H::kBucketCount - 1);
  for (std::size_t index = 0; index < H::kBucketCount; ++index) {
    const std::uint64_t lower = H::bucket_lower(index);
    const std::uint64_t upper = H::bucket_upper(index);
    ASSERT_LE(lower, upper) << "bucket " << index;
    ASSERT_EQ(H::bucket_index(lower), index) << "lower of bucket " << index;
    ASSERT_EQ(H::bucket_index(upper), index) << "upper of bucket " << index;
    if (index > 0) {
      ASSERT_EQ(H::bucket_upper(index - 1) + 1, lower) << "gap before bucket " << index;
    }
    // Width one below 2 * kSubBucketCount, else at most lower / kSubBucketCount.
    const std::uint64_t width_minus_one = upper - lower;
    if (lower < 2 * H::kSubBucketCount) {
      ASSERT_EQ(width_minus_one, 0U) << "bucket " << index;
    } else {
      ASSERT_LE(width_minus_one + 1, lower / H::kSubBucketCount) << "bucket " << index;
    }
  }
}

TEST(LatencyHistogramGeometry, RandomValuesFallInsideTheirBucket) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 100'000; ++i) {
    // Random magnitude, then random bits below it, to cover every octave.
    const std::uint64_t value = random() >> (random() % 64);
    const std::size_t index = LatencyHistogram::bucket_index(value);
    ASSERT_LT(index, LatencyHistogram::kBucketCount);
    ASSERT_LE(LatencyHistogram::bucket_lower(index), value);
    ASSERT_GE(LatencyHistogram::bucket_upper(index), value);
  }
}

TEST(LatencyHistogram, EmptyReportsZeros) {
  const LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0U);
  EXPECT_EQ(histogram.min(), 0U);
  EXPECT_EQ(histogram.max(), 0U);
  EXPECT_EQ(histogram.mean(), 0.0);
  for (double p : {0.0, 50.0, 99.99, 100.0}) EXPECT_EQ(histogram.percentile(p), 0U) << p;
  const LatencySummary summary = summarize(histogram);
  EXPECT_EQ(summary.count, 0U);
  EXPECT_EQ(summary.p9999, 0U);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (std::uint64_t value = 0; value < 256; ++value) histogram.record(value);
  EXPECT_EQ(histogram.count(), 256U);
  EXPECT_EQ(histogram.min(), 0U);
  EXPECT_EQ(histogram.max(), 255U);
  EXPECT_DOUBLE_EQ(histogram.mean(), 127.5);
  // Nearest rank of p over 0..255 is the sample ceil(p * 2.56) - 1.
  EXPECT_EQ(histogram.percentile(50.0), 127U);
  EXPECT_EQ(histogram.percentile(25.0), 63U);
  EXPECT_EQ(histogram.percentile(99.0), 253U);
  EXPECT_EQ(histogram.percentile(100.0), 255U);
  EXPECT_EQ(histogram.percentile(0.0), 0U);
}

TEST(LatencyHistogram, OneRepeatedValueIsReportedExactlyAtEveryPercentile) {
  LatencyHistogram histogram;
  histogram.record_n(123'456'789, 1000);
  for (double p = 0.0; p <= 100.0; p += 0.5) EXPECT_EQ(histogram.percentile(p), 123'456'789U) << p;
  EXPECT_DOUBLE_EQ(histogram.mean(), 123'456'789.0);
}

TEST(LatencyHistogram, MinAndMaxAreExactAboveTheExactRange) {
  LatencyHistogram histogram;
  histogram.record(1'000'003);
  histogram.record(999'999'937);
  histogram.record(5'000'011);
  EXPECT_EQ(histogram.min(), 1'000'003U);
  EXPECT_EQ(histogram.max(), 999'999'937U);
  EXPECT_EQ(histogram.percentile(0.0), 1'000'003U);
  EXPECT_EQ(histogram.percentile(100.0), 999'999'937U);
  EXPECT_DOUBLE_EQ(histogram.mean(), (1'000'003.0 + 999'999'937.0 + 5'000'011.0) / 3.0);
}

TEST(LatencyHistogram, OutOfRangePercentilesClamp) {
  LatencyHistogram histogram;
  for (std::uint64_t value : {10U, 20U, 30U}) histogram.record(value);
  EXPECT_EQ(histogram.percentile(-5.0), 10U);
  EXPECT_EQ(histogram.percentile(250.0), 30U);
  EXPECT_EQ(histogram.percentile(std::nan("")), 10U);
}

TEST(LatencyHistogram, RecordNMatchesRepeatedRecordAndZeroCountIsANoOp) {
  LatencyHistogram repeated;
  LatencyHistogram batched;
  for (int i = 0; i < 37; ++i) repeated.record(4242);
  batched.record_n(4242, 37);
  EXPECT_EQ(repeated, batched);

  LatencyHistogram untouched;
  untouched.record_n(99, 0);
  EXPECT_EQ(untouched, LatencyHistogram());
  EXPECT_EQ(untouched.min(), 0U);
  EXPECT_EQ(untouched.max(), 0U);

  batched.record_n(1, 0);  // must not pull min() down to 1
  EXPECT_EQ(batched.min(), 4242U);
}

TEST(LatencyHistogram, HugeValuesDoNotOverflow) {
  LatencyHistogram histogram;
  histogram.record_n(kMaxValue, 1000);
  EXPECT_EQ(histogram.max(), kMaxValue);
  EXPECT_EQ(histogram.percentile(100.0), kMaxValue);
  EXPECT_EQ(histogram.percentile(50.0), kMaxValue);  // one value: exact
  // The 128-bit sum holds 1000 * UINT64_MAX; a 64-bit one would wrap.
  EXPECT_DOUBLE_EQ(histogram.mean(), static_cast<double>(kMaxValue));

  histogram.record(kSixtySecondsNs);
  histogram.record(kSixtySecondsNs + 1);
  EXPECT_EQ(histogram.min(), kSixtySecondsNs);
  EXPECT_EQ(histogram.count(), 1002U);
  const double expected_mean =
      (1000.0L * static_cast<long double>(kMaxValue) + 2.0L * kSixtySecondsNs + 1.0L) / 1002.0L;
  EXPECT_DOUBLE_EQ(histogram.mean(), expected_mean);
  EXPECT_EQ(histogram.percentile(0.0), kSixtySecondsNs);
  // Rank 2 of 1002 is 60 s + 1 ns; the answer must be within 1% of it.
  const std::uint64_t second = histogram.percentile(0.15);
  EXPECT_NEAR(static_cast<double>(second), static_cast<double>(kSixtySecondsNs + 1), 0.01 * kSixtySecondsNs);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingIntoOne) {
  std::mt19937_64 random(11);
  std::lognormal_distribution<double> latency(9.0, 1.5);
  LatencyHistogram first;
  LatencyHistogram second;
  LatencyHistogram everything;
  for (int i = 0; i < 50'000; ++i) {
    const auto value = static_cast<std::uint64_t>(latency(random));
    (i % 3 == 0 ? first : second).record(value);
    everything.record(value);
  }
  LatencyHistogram merged = first;
  merged.merge(second);
  EXPECT_EQ(merged, everything);
  EXPECT_EQ(merged.percentile(99.9), everything.percentile(99.9));

  LatencyHistogram empty;
  merged.merge(empty);
  EXPECT_EQ(merged, everything);
  empty.merge(everything);
  EXPECT_EQ(empty, everything);
}

TEST(LatencyHistogram, SelfMergeDoublesEveryCount) {
  LatencyHistogram histogram;
  histogram.record(5);
  histogram.record(5000);
  LatencyHistogram expected;
  expected.record_n(5, 2);
  expected.record_n(5000, 2);
  histogram.merge(histogram);
  EXPECT_EQ(histogram, expected);
}

TEST(LatencyHistogram, ResetForgetsEverythingAndStaysUsable) {
  LatencyHistogram histogram;
  histogram.record(77);
  histogram.record(kMaxValue);
  histogram.reset();
  EXPECT_EQ(histogram, LatencyHistogram());
  EXPECT_EQ(histogram.count(), 0U);
  EXPECT_EQ(histogram.percentile(50.0), 0U);
  histogram.record(300);
  EXPECT_EQ(histogram.min(), 300U);
  EXPECT_EQ(histogram.max(), 300U);
}

TEST(LatencyHistogram, CopiesAreIndependentAndMovesEmptyTheSource) {
  LatencyHistogram original;
  original.record(1000);
  LatencyHistogram copy = original;
  copy.record(2000);
  EXPECT_EQ(original.count(), 1U);
  EXPECT_EQ(copy.count(), 2U);

  LatencyHistogram moved = std::move(copy);
  EXPECT_EQ(moved.count(), 2U);
  EXPECT_EQ(moved.max(), 2000U);
  // NOLINTBEGIN(bugprone-use-after-move): the moved-from state is documented.
  EXPECT_EQ(copy.count(), 0U);
  EXPECT_EQ(copy.percentile(50.0), 0U);
  copy = original;  // assigning revives it
  copy.record(3);
  EXPECT_EQ(copy.count(), 2U);
  // NOLINTEND(bugprone-use-after-move)

  LatencyHistogram assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.count(), 2U);
  assigned.record(1);
  EXPECT_EQ(assigned.min(), 1U);
}

TEST(LatencyHistogram, SummaryMatchesTheAccessors) {
  LatencyHistogram histogram;
  for (std::uint64_t value = 1; value <= 100'000; ++value) histogram.record(value);
  const LatencySummary summary = summarize(histogram);
  EXPECT_EQ(summary.count, histogram.count());
  EXPECT_EQ(summary.min, 1U);
  EXPECT_EQ(summary.max, 100'000U);
  EXPECT_DOUBLE_EQ(summary.mean, 50'000.5);
  EXPECT_EQ(summary.p50, histogram.percentile(50.0));
  EXPECT_EQ(summary.p99, histogram.percentile(99.0));
  EXPECT_EQ(summary.p999, histogram.percentile(99.9));
  EXPECT_EQ(summary.p9999, histogram.percentile(99.99));
}

// nearest_rank() must read p as the decimal written: compare with integer
// arithmetic on p expressed in thousandths of a percent.
TEST(LatencyHistogramNearestRank, MatchesIntegerArithmeticOnDecimalPercentiles) {
  EXPECT_EQ(LatencyHistogram::nearest_rank(50.0, 0), 0U);
  EXPECT_EQ(LatencyHistogram::nearest_rank(99.9, 1000), 999U);
  EXPECT_EQ(LatencyHistogram::nearest_rank(99.99, 10'000), 9999U);
  EXPECT_EQ(LatencyHistogram::nearest_rank(50.0, 3), 2U);
  EXPECT_EQ(LatencyHistogram::nearest_rank(0.0, 5), 1U);
  EXPECT_EQ(LatencyHistogram::nearest_rank(100.0, 5), 5U);
  EXPECT_EQ(LatencyHistogram::nearest_rank(100.0, kMaxValue), kMaxValue);

  for (std::uint64_t n : {1ULL, 2ULL, 3ULL, 7ULL, 10ULL, 999ULL, 1000ULL, 1001ULL, 12'345ULL, 1'000'000ULL,
                          1'000'000'007ULL}) {
    for (std::uint64_t thousandths = 0; thousandths <= 100'000; thousandths += 7) {
      const double p = static_cast<double>(thousandths) / 1000.0;
      const std::uint64_t expected = std::max<std::uint64_t>(1, (thousandths * n + 99'999) / 100'000);
      ASSERT_EQ(LatencyHistogram::nearest_rank(p, n), expected) << "p=" << p << " n=" << n;
    }
    for (double p : {90.0, 99.0, 99.9, 99.99, 99.999}) {
      const auto thousandths = static_cast<std::uint64_t>(std::llround(p * 1000.0));
      ASSERT_EQ(LatencyHistogram::nearest_rank(p, n), std::max<std::uint64_t>(1, (thousandths * n + 99'999) / 100'000))
          << "p=" << p << " n=" << n;
    }
  }
}

}  // namespace
}  // namespace aether
