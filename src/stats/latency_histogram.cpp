// LatencyHistogram: construction, merge, percentiles and the summary used by
// results tables. The bucket geometry and record() live in the header so the
// data path inlines them.
#include "aether/stats/latency_histogram.hpp"

#include <cmath>
#include <utility>

namespace aether {

// The geometry promised in the header: the last bucket ends exactly at
// UINT64_MAX and buckets of width one cover [0, 2 * kSubBucketCount).
static_assert(LatencyHistogram::bucket_index(std::numeric_limits<std::uint64_t>::max()) ==
              LatencyHistogram::kBucketCount - 1);
static_assert(LatencyHistogram::bucket_upper(LatencyHistogram::kBucketCount - 1) ==
              std::numeric_limits<std::uint64_t>::max());
static_assert(LatencyHistogram::bucket_index(2 * LatencyHistogram::kSubBucketCount - 1) ==
              2 * LatencyHistogram::kSubBucketCount - 1);
static_assert(LatencyHistogram::bucket_upper(2 * LatencyHistogram::kSubBucketCount - 1) ==
              2 * LatencyHistogram::kSubBucketCount - 1);

LatencyHistogram::LatencyHistogram() : counts_(kBucketCount, 0) {}

LatencyHistogram::LatencyHistogram(LatencyHistogram&& other) noexcept
    : counts_(std::exchange(other.counts_, {})),
      total_count_(std::exchange(other.total_count_, 0)),
      min_(std::exchange(other.min_, std::numeric_limits<std::uint64_t>::max())),
      max_(std::exchange(other.max_, 0)),
      sum_(std::exchange(other.sum_, 0)) {}

LatencyHistogram& LatencyHistogram::operator=(LatencyHistogram&& other) noexcept {
  if (this != &other) {
    counts_ = std::exchange(other.counts_, {});
    total_count_ = std::exchange(other.total_count_, 0);
    min_ = std::exchange(other.min_, std::numeric_limits<std::uint64_t>::max());
    max_ = std::exchange(other.max_, 0);
    sum_ = std::exchange(other.sum_, 0);
  }
  return *this;
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  if (other.total_count_ == 0) return;  // also covers a moved-from `other`
  // Element-wise, so merging a histogram into itself doubles each count.
  for (std::size_t index = 0; index < kBucketCount; ++index) counts_[index] += other.counts_[index];
  total_count_ += other.total_count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void LatencyHistogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_count_ = 0;
  min_ = std::numeric_limits<std::uint64_t>::max();
  max_ = 0;
  sum_ = 0;
}

double LatencyHistogram::mean() const noexcept {
  if (total_count_ == 0) return 0.0;
  return static_cast<double>(sum_) / static_cast<double>(total_count_);
}

std::uint64_t LatencyHistogram::nearest_rank(double p, std::uint64_t n) noexcept {
  if (n == 0) return 0;
  if (!(p > 0.0)) return 1;  // also NaN
  if (p >= 100.0) return n;
  // long double (64-bit mantissa on x86-64) holds every uint64 n exactly.
  const long double exact = static_cast<long double>(p) / 100.0L * static_cast<long double>(n);
  // A decimal p such as 99.9 is stored slightly off, so p/100*n can land a
  // hair above an integer rank (999.0000000000001 of 1000) and ceil would
  // pick the next sample. The computed product is within ~2^-53 (relative)
  // of the decimal one, so forgive 2^-50 (8 ulps of p, also enough for a p
  // computed by a few arithmetic steps). This misreads a genuinely fractional
  // rank only if its fractional part is below n * 2^-50; for a p with d
  // decimals that part is at least 1/10^(d+2), so ranks are exact for n below
  // 2^50 / 10^(d+2): 1.1e10 samples for p = 99.999.
  const long double tolerance = exact * 0x1p-50L;
  const long double rank = std::ceil(exact - tolerance);
  if (rank <= 1.0L) return 1;
  if (rank >= static_cast<long double>(n)) return n;
  return static_cast<std::uint64_t>(rank);
}

std::uint64_t LatencyHistogram::percentile(double p) const noexcept {
  if (total_count_ == 0) return 0;
  const std::uint64_t rank = nearest_rank(p, total_count_);
  // The extremes are tracked exactly; no need to approximate them.
  if (rank == 1) return min_;
  if (rank == total_count_) return max_;

  // Only buckets between min_ and max_ can hold samples. Tail percentiles
  // (the ones people ask for) are found faster from the top.
  const std::size_t first = bucket_index(min_);
  const std::size_t last = bucket_index(max_);
  std::size_t found = last;
  std::uint64_t seen = 0;
  if (rank <= total_count_ / 2) {
    for (std::size_t index = first; index <= last; ++index) {
      seen += counts_[index];
      if (seen >= rank) {
        found = index;
        break;
      }
    }
  } else {
    // The rank-th smallest sample is the (n - rank + 1)-th largest.
    const std::uint64_t rank_from_top = total_count_ - rank + 1;
    for (std::size_t index = last + 1; index-- > first;) {
      seen += counts_[index];
      if (seen >= rank_from_top) {
        found = index;
        break;
      }
    }
  }

  // The exact sample lies in [lower, upper] and also in [min_, max_]. The
  // midpoint of that range is within half a bucket width of it: at most
  // 1/256 of the value, since a bucket is at most 1/128 of its lower bound
  // wide (buckets below 256 have width one, so the answer there is exact).
  const std::uint64_t lower = std::max(bucket_lower(found), min_);
  const std::uint64_t upper = std::min(bucket_upper(found), max_);
  return lower + (upper - lower) / 2;
}

LatencySummary summarize(const LatencyHistogram& histogram) noexcept {
  return LatencySummary{
      .count = histogram.count(),
      .min = histogram.min(),
      .max = histogram.max(),
      .mean = histogram.mean(),
      .p50 = histogram.percentile(50.0),
      .p99 = histogram.percentile(99.0),
      .p999 = histogram.percentile(99.9),
      .p9999 = histogram.percentile(99.99),
  };
}

}  // namespace aether
