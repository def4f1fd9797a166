// LatencyHistogram accuracy: percentile(p) against the exact nearest-rank
// percentile of the sorted samples, for distributions shaped like real
// latency (uniform, Pareto and lognormal tails, bimodal, huge values).
//
// The promise under test: relative error <= 1% at every p. The design gives
// 1/256 (half a bucket of at most 1/128 of its lower bound), which is checked
// too so a regression in the representative value is caught early.
#include "aether/stats/latency_histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace aether {
namespace {

constexpr std::size_t kSampleCount = 200'000;

// The nearest-rank percentile: the smallest sample v with at least p% of the
// samples <= v. nearest_rank() itself is checked against integer arithmetic
// in latency_histogram_test.cpp.
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, double p) {
  return sorted[LatencyHistogram::nearest_rank(p, sorted.size()) - 1];
}

long double relative_error(std::uint64_t approximate, std::uint64_t exact) {
  if (exact == 0) return approximate == 0 ? 0.0L : 1.0L;
  const long double difference = approximate > exact ? approximate - exact : exact - approximate;
  return difference / static_cast<long double>(exact);
}

// Records `samples`, then compares every p in 0, 0.1, ..., 100 plus the
// deep-tail ones. Returns the worst relative error seen.
long double check_percentiles(std::vector<std::uint64_t> samples) {
  LatencyHistogram histogram;
  for (std::uint64_t value : samples) histogram.record(value);
  std::sort(samples.begin(), samples.end());

  EXPECT_EQ(histogram.count(), samples.size());
  EXPECT_EQ(histogram.min(), samples.front());
  EXPECT_EQ(histogram.max(), samples.back());
  EXPECT_EQ(histogram.percentile(0.0), samples.front());
  EXPECT_EQ(histogram.percentile(100.0), samples.back());

  std::vector<double> percentiles{50.0, 90.0, 99.0, 99.9, 99.99, 99.999, 99.9999, 100.0};
  for (int tenths = 0; tenths <= 1000; ++tenths) percentiles.push_back(tenths / 10.0);

  long double worst = 0.0L;
  for (double p : percentiles) {
    const std::uint64_t exact = exact_percentile(samples, p);
    const std::uint64_t approximate = histogram.percentile(p);
    const long double error = relative_error(approximate, exact);
    EXPECT_LE(error, 0.01L) << "p=" << p << " exact=" << exact << " histogram=" << approximate;
    worst = std::max(worst, error);
  }
  EXPECT_LE(worst, 1.0L / 256.0L);
  ::testing::Test::RecordProperty("worst_relative_error", std::to_string(static_cast<double>(worst)));
  return worst;
}

std::uint64_t to_sample(double value) {
  if (!(value > 0.0)) return 0;
  if (value >= 1.8e19) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(std::llround(value));
}

TEST(LatencyHistogramAccuracy, UniformNanosecondsToOneSecond) {
  std::mt19937_64 random(1);
  std::uniform_int_distribution<std::uint64_t> latency(0, 1'000'000'000);
  std::vector<std::uint64_t> samples(kSampleCount);
  for (auto& sample : samples) sample = latency(random);
  check_percentiles(std::move(samples));
}

TEST(LatencyHistogramAccuracy, ParetoTail) {
  // Pareto(scale 1 us, shape 1.2) by inversion: scale / U^(1/shape).
  std::mt19937_64 random(2);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<std::uint64_t> samples(kSampleCount);
  for (auto& sample : samples) sample = to_sample(1000.0 / std::pow(1.0 - uniform(random), 1.0 / 1.2));
  check_percentiles(std::move(samples));
}

TEST(LatencyHistogramAccuracy, LognormalTail) {
  std::mt19937_64 random(3);
  std::lognormal_distribution<double> latency(std::log(5000.0), 1.5);
  std::vector<std::uint64_t> samples(kSampleCount);
  for (auto& sample : samples) sample = to_sample(latency(random));
  check_percentiles(std::move(samples));
}

TEST(LatencyHistogramAccuracy, BimodalFastPathAndSlowPath) {
  // 95% around 800 ns (cache-hot path), 5% around 250 us (a page fault or preemption).
  std::mt19937_64 random(4);
  std::bernoulli_distribution slow(0.05);
  std::normal_distribution<double> fast_latency(800.0, 60.0);
  std::normal_distribution<double> slow_latency(250'000.0, 20'000.0);
  std::vector<std::uint64_t> samples(kSampleCount);
  for (auto& sample : samples) sample = to_sample(slow(random) ? slow_latency(random) : fast_latency(random));
  check_percentiles(std::move(samples));
}

TEST(LatencyHistogramAccuracy, SmallValuesAreExactAtEveryPercentile) {
  std::mt19937_64 random(5);
  std::uniform_int_distribution<std::uint64_t> latency(0, 255);
  std::vector<std::uint64_t> samples(kSampleCount);
  for (auto& sample : samples) sample = latency(random);
  EXPECT_EQ(check_percentiles(std::move(samples)), 0.0L);
}

TEST(LatencyHistogramAccuracy, FewDistinctValuesWithTies) {
  std::mt19937_64 random(6);
  const std::uint64_t values[] = {100, 1000, 1'000'000, 60'000'000'000};
  std::discrete_distribution<int> which({70.0, 29.0, 0.99, 0.01});
  std::vector<std::uint64_t> samples(kSampleCount);
  for (auto& sample : samples) sample = values[which(random)];
  check_percentiles(std::move(samples));
}

TEST(LatencyHistogramAccuracy, HugeValuesNearSixtySecondsAndTheTopOfTheRange) {
  std::mt19937_64 random(7);
  std::uniform_int_distribution<std::uint64_t> near_sixty_seconds(59'000'000'000, 61'000'000'000);
  std::uniform_int_distribution<std::uint64_t> near_top(std::numeric_limits<std::uint64_t>::max() - (1ULL << 62),
                                                        std::numeric_limits<std::uint64_t>::max());
  std::vector<std::uint64_t> samples(kSampleCount);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    samples[i] = i % 2 == 0 ? near_sixty_seconds(random) : near_top(random);
  }
  samples[0] = std::numeric_limits<std::uint64_t>::max();
  check_percentiles(std::move(samples));
}

}  // namespace
}  // namespace aether
