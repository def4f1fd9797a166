// LatencyHistogram::to_json(): field set, consistency of the bucket list with
// the histogram, and survival of a dump/parse round trip.
#include "aether/stats/latency_histogram.hpp"

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace aether {
namespace {

LatencyHistogram lognormal_histogram() {
  std::mt19937_64 random(21);
  std::lognormal_distribution<double> latency(8.0, 2.0);
  LatencyHistogram histogram;
  for (int i = 0; i < 100'000; ++i) histogram.record(static_cast<std::uint64_t>(latency(random)));
  histogram.record(std::numeric_limits<std::uint64_t>::max());  // the last bucket must export cleanly
  return histogram;
}

TEST(LatencyHistogramJson, HasTheDocumentedFields) {
  const LatencyHistogram histogram = lognormal_histogram();
  const nlohmann::json json = histogram.to_json();
  EXPECT_EQ(json.at("count").get<std::uint64_t>(), histogram.count());
  EXPECT_EQ(json.at("min").get<std::uint64_t>(), histogram.min());
  EXPECT_EQ(json.at("max").get<std::uint64_t>(), histogram.max());
  EXPECT_DOUBLE_EQ(json.at("mean").get<double>(), histogram.mean());
  const nlohmann::json& percentiles = json.at("percentiles");
  EXPECT_EQ(percentiles.size(), 6U);
  EXPECT_EQ(percentiles.at("p50").get<std::uint64_t>(), histogram.percentile(50.0));
  EXPECT_EQ(percentiles.at("p90").get<std::uint64_t>(), histogram.percentile(90.0));
  EXPECT_EQ(percentiles.at("p99").get<std::uint64_t>(), histogram.percentile(99.0));
  EXPECT_EQ(percentiles.at("p99.9").get<std::uint64_t>(), histogram.percentile(99.9));
  EXPECT_EQ(percentiles.at("p99.99").get<std::uint64_t>(), histogram.percentile(99.99));
  EXPECT_EQ(percentiles.at("p99.999").get<std::uint64_t>(), histogram.percentile(99.999));
}

TEST(LatencyHistogramJson, BucketsAreNonEmptyAscendingAndSumToCount) {
  const LatencyHistogram histogram = lognormal_histogram();
  const nlohmann::json json = histogram.to_json();
  std::uint64_t total = 0;
  std::uint64_t previous_upper = 0;
  bool first = true;
  for (const nlohmann::json& bucket : json.at("buckets")) {
    ASSERT_EQ(bucket.size(), 3U);
    const auto lower = bucket[0].get<std::uint64_t>();
    const auto upper = bucket[1].get<std::uint64_t>();
    const auto count = bucket[2].get<std::uint64_t>();
    ASSERT_LE(lower, upper);
    if (!first) {
      ASSERT_GT(lower, previous_upper);
    }
    ASSERT_GT(count, 0U);
    // Each exported bucket is exactly one of the histogram's buckets.
    const std::size_t index = LatencyHistogram::bucket_index(lower);
    ASSERT_EQ(LatencyHistogram::bucket_upper(index), upper);
    ASSERT_EQ(histogram.bucket_count(index), count);
    total += count;
    previous_upper = upper;
    first = false;
  }
  EXPECT_EQ(total, histogram.count());
  EXPECT_EQ(previous_upper, std::numeric_limits<std::uint64_t>::max());
}

TEST(LatencyHistogramJson, BucketCountsRoundTripThroughText) {
  const LatencyHistogram original = lognormal_histogram();
  const std::string text = original.to_json().dump();
  const nlohmann::json parsed = nlohmann::json::parse(text);
  EXPECT_EQ(parsed.at("max").get<std::uint64_t>(), std::numeric_limits<std::uint64_t>::max());

  LatencyHistogram rebuilt;
  for (const nlohmann::json& bucket : parsed.at("buckets")) {
    rebuilt.record_n(bucket[0].get<std::uint64_t>(), bucket[2].get<std::uint64_t>());
  }
  EXPECT_EQ(rebuilt.count(), original.count());
  for (std::size_t index = 0; index < LatencyHistogram::kBucketCount; ++index) {
    ASSERT_EQ(rebuilt.bucket_count(index), original.bucket_count(index)) << "bucket " << index;
  }
}

TEST(LatencyHistogramJson, EmptyHistogramExportsZerosAndNoBuckets) {
  const nlohmann::json json = LatencyHistogram().to_json();
  EXPECT_EQ(json.at("count").get<std::uint64_t>(), 0U);
  EXPECT_EQ(json.at("min").get<std::uint64_t>(), 0U);
  EXPECT_EQ(json.at("max").get<std::uint64_t>(), 0U);
  EXPECT_EQ(json.at("mean").get<double>(), 0.0);
  EXPECT_EQ(json.at("percentiles").at("p99.999").get<std::uint64_t>(), 0U);
  EXPECT_TRUE(json.at("buckets").is_array());
  EXPECT_TRUE(json.at("buckets").empty());
}

TEST(LatencyHistogramJson, ImplicitConversionMatchesToJson) {
  const LatencyHistogram histogram = lognormal_histogram();
  const nlohmann::json converted = histogram;
  EXPECT_EQ(converted, histogram.to_json());
}

}  // namespace
}  // namespace aether
