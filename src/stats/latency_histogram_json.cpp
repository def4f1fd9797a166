// JSON export of a LatencyHistogram (control path: allocates freely).
//
// The bucket list carries the full distribution so a later tool can re-plot
// it or merge runs; the percentiles are the ones a tail-latency table shows.
#include "aether/stats/latency_histogram.hpp"

#include <array>
#include <string>
#include <string_view>
#include <utility>

namespace aether {

namespace {

struct NamedPercentile {
  std::string_view key;
  double p;
};

// The keys name the decimal p; the doubles below are the nearest binary
// values, which LatencyHistogram::nearest_rank() reads as those decimals.
constexpr std::array<NamedPercentile, 6> kExportedPercentiles{{
    {"p50", 50.0},
    {"p90", 90.0},
    {"p99", 99.0},
    {"p99.9", 99.9},
    {"p99.99", 99.99},
    {"p99.999", 99.999},
}};

}  // namespace

nlohmann::json LatencyHistogram::to_json() const {
  nlohmann::json percentiles = nlohmann::json::object();
  for (const NamedPercentile& named : kExportedPercentiles) {
    percentiles[std::string(named.key)] = percentile(named.p);
  }

  nlohmann::json buckets = nlohmann::json::array();
  for (std::size_t index = 0; index < counts_.size(); ++index) {
    if (counts_[index] == 0) continue;
    buckets.push_back(nlohmann::json::array({bucket_lower(index), bucket_upper(index), counts_[index]}));
  }

  return nlohmann::json{
      {"count", count()},
      {"min", min()},
      {"max", max()},
      {"mean", mean()},
      {"percentiles", std::move(percentiles)},
      {"buckets", std::move(buckets)},
  };
}

void to_json(nlohmann::json& json, const LatencyHistogram& histogram) { json = histogram.to_json(); }

}  // namespace aether
