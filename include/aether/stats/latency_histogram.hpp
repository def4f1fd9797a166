// LatencyHistogram: a log-linear (HDR-style) histogram of uint64 values.
//
// Why log-linear: latency spans nanoseconds to seconds and engineers judge by
// the tail, so every decade needs the same *relative* resolution. Each power
// of two [2^e, 2^(e+1)) is split into 128 equal sub-buckets, the scheme of
// Gil Tene's HdrHistogram ("sub-bucket count" 2^7): a bucket is at most
// 1/128 of its lower bound wide. Values below 256 get one bucket each and
// are therefore exact. The buckets cover the whole uint64 range, so no value
// is ever clamped (7424 buckets, 58 KiB of counters).
//
// Cost: record() is one count-leading-zeros, a shift, an add and an
// increment: no loop, no branch, no floating point, no allocation. The bucket
// array is allocated once by the constructor (control path).
//
// Units: the histogram is unit-agnostic; Aether records nanoseconds.
//
// Percentile definition (what percentile() approximates): the nearest rank.
// For n samples sorted ascending x[1] <= ... <= x[n], percentile(p) is
// x[r] with r = nearest_rank(p, n) = max(1, ceil(p / 100 * n)): the smallest
// recorded value v such that at least p% of the samples are <= v. The result
// lies within 1% (in fact 1/256 = 0.39%) of that exact value; p = 0 gives
// min() and p = 100 gives max() exactly.
//
// Threading: not thread-safe. Give each thread its own histogram and merge()
// them on the control path once the writers have stopped.
//
// A moved-from histogram reports count() == 0 and may be read, destroyed or
// assigned to, but not recorded into, merged into or reset.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

namespace aether {

class LatencyHistogram {
 public:
  // log2 of the sub-buckets per power of two. 7 gives a bucket width of at
  // most 1/128 = 0.78% of its lower bound; percentile() reports the bucket
  // midpoint, halving the worst-case error to 0.39%.
  static constexpr unsigned kSubBucketBits = 7;
  static constexpr std::uint64_t kSubBucketCount = std::uint64_t{1} << kSubBucketBits;
  // Values in [0, 2 * kSubBucketCount) have buckets of width one; above that
  // each power of two 2^e (e = 8..63) adds kSubBucketCount buckets.
  static constexpr std::size_t kBucketCount =
      (std::numeric_limits<std::uint64_t>::digits - kSubBucketBits + 1) * kSubBucketCount;

  // Allocates and zeroes the kBucketCount counters (control path).
  LatencyHistogram();

  LatencyHistogram(const LatencyHistogram&) = default;
  LatencyHistogram& operator=(const LatencyHistogram&) = default;
  // Moves leave `other` empty (count() == 0) without buckets; see the header comment.
  LatencyHistogram(LatencyHistogram&& other) noexcept;
  LatencyHistogram& operator=(LatencyHistogram&& other) noexcept;
  ~LatencyHistogram() = default;

  // Adds one sample. Data path: no allocation, no branch on the value.
  void record(std::uint64_t value) noexcept { record_n(value, 1); }

  // Adds `count` samples of the same value (e.g. a whole burst that shared
  // one timestamp). count == 0 is a no-op.
  void record_n(std::uint64_t value, std::uint64_t count) noexcept {
    counts_[bucket_index(value)] += count;
    // A zero count must not move min/max: select the neutral values instead
    // of branching (compiles to cmov).
    const bool any = count != 0;
    min_ = std::min(min_, any ? value : std::numeric_limits<std::uint64_t>::max());
    max_ = std::max(max_, any ? value : 0);
    total_count_ += count;
    sum_ += static_cast<Uint128>(value) * count;
  }

  // Adds every sample of `other` into this histogram (control path; a linear
  // pass over the buckets). Self-merge doubles every count.
  void merge(const LatencyHistogram& other) noexcept;

  // Forgets every sample; keeps the bucket array.
  void reset() noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return total_count_; }
  // Exact smallest / largest recorded value; 0 when empty.
  [[nodiscard]] std::uint64_t min() const noexcept { return total_count_ == 0 ? 0 : min_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  // Exact arithmetic mean (the sum is kept in 128 bits); 0.0 when empty.
  [[nodiscard]] double mean() const noexcept;

  // The nearest-rank p-th percentile to within 1% (see the header comment).
  // p is clamped to [0, 100]; NaN counts as 0. Returns 0 when empty.
  // Walks the buckets between min() and max() from the nearer end.
  [[nodiscard]] std::uint64_t percentile(double p) const noexcept;

  // The 1-based rank r = max(1, ceil(p / 100 * n)) that percentile() targets.
  // p is read as the decimal the caller wrote: 99.9 of 1000 samples is rank
  // 999, although the double nearest 99.9 is slightly above it (a relative
  // slack of 2^-50 absorbs that; the .cpp explains the bound). p is clamped
  // to [0, 100], NaN counts as 0. Returns 0 only when n == 0.
  [[nodiscard]] static std::uint64_t nearest_rank(double p, std::uint64_t n) noexcept;

  // {"count","min","max","mean",
  //  "percentiles":{"p50","p90","p99","p99.9","p99.99","p99.999"},
  //  "buckets":[[lower, upper, count], ...]}
  // buckets lists only non-empty buckets, ascending; bounds are inclusive.
  [[nodiscard]] nlohmann::json to_json() const;

  // Bucket geometry. bucket_index() is total over uint64; for every index i
  // below kBucketCount, bucket_lower(i) <= bucket_upper(i) (both inclusive)
  // and bucket_upper(i) + 1 == bucket_lower(i + 1).
  [[nodiscard]] static constexpr std::size_t bucket_index(std::uint64_t value) noexcept {
    // Forcing bit kSubBucketBits on makes values below 2^(kSubBucketBits+1)
    // share shift 0 (width-one buckets) and keeps bit_width free of the
    // value == 0 special case.
    const unsigned shift = static_cast<unsigned>(std::bit_width(value | kSubBucketCount)) - 1 - kSubBucketBits;
    // value >> shift lies in [kSubBucketCount, 2 * kSubBucketCount) once
    // shift > 0, so consecutive shifts occupy consecutive index ranges.
    return (std::size_t{shift} << kSubBucketBits) + static_cast<std::size_t>(value >> shift);
  }
  [[nodiscard]] static constexpr std::uint64_t bucket_lower(std::size_t index) noexcept {
    const unsigned shift = bucket_shift(index);
    return (static_cast<std::uint64_t>(index) - (std::uint64_t{shift} << kSubBucketBits)) << shift;
  }
  [[nodiscard]] static constexpr std::uint64_t bucket_upper(std::size_t index) noexcept {
    // Written as lower + (width - 1) so the last bucket ends at UINT64_MAX without overflow.
    return bucket_lower(index) + ((std::uint64_t{1} << bucket_shift(index)) - 1);
  }
  // The number of samples in bucket `index` (< kBucketCount).
  [[nodiscard]] std::uint64_t bucket_count(std::size_t index) const noexcept { return counts_[index]; }

  [[nodiscard]] bool operator==(const LatencyHistogram& other) const noexcept = default;

 private:
  // GCC/Clang extension; __extension__ keeps -Wpedantic quiet. 128 bits hold
  // the sum of 2^64 samples of any uint64 value.
  __extension__ typedef unsigned __int128 Uint128;

  // log2 of the width of bucket `index`.
  [[nodiscard]] static constexpr unsigned bucket_shift(std::size_t index) noexcept {
    const auto group = static_cast<unsigned>(index >> kSubBucketBits);
    return group == 0 ? 0 : group - 1;
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_count_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();  // neutral for std::min
  std::uint64_t max_ = 0;
  Uint128 sum_ = 0;
};

// Lets nlohmann::json convert a histogram implicitly: `json j = histogram;`.
void to_json(nlohmann::json& json, const LatencyHistogram& histogram);

// The numbers a results table prints for one histogram.
struct LatencySummary {
  std::uint64_t count = 0;
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  double mean = 0.0;
  std::uint64_t p50 = 0;
  std::uint64_t p99 = 0;
  std::uint64_t p999 = 0;   // 99.9th percentile
  std::uint64_t p9999 = 0;  // 99.99th percentile
};

[[nodiscard]] LatencySummary summarize(const LatencyHistogram& histogram) noexcept;

}  // namespace aether
