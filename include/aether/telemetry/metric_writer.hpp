// MetricWriter: what a metrics source writes into at scrape time, and the
// renderer of the OpenMetrics 1.0 / Prometheus 0.0.4 text formats.
//
// A scrape declares families (name, type, unit, help) and appends samples to
// them in any order; render() emits every family once with its HELP/TYPE
// (and UNIT in OpenMetrics) lines followed by all of its samples, which both
// formats require (OpenMetrics 1.0, "MetricFamily": samples of one family
// are contiguous). Sample lines are rendered when written, so render() only
// concatenates.
//
// Control path only (allocates). Reuse one writer across scrapes: clear()
// keeps every buffer's capacity, so a steady scrape allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aether::telemetry {

enum class MetricType : std::uint8_t {
  counter,  // monotonic; samples are named NAME_total
  gauge,    // a value that goes up and down
  summary,  // quantiles plus NAME_count and NAME_sum
  unknown,  // no type known (backend xstats): "untyped" in Prometheus 0.0.4
};

enum class ExpositionFormat : std::uint8_t {
  openmetrics,  // application/openmetrics-text; version=1.0.0 (UNIT lines, "# EOF")
  prometheus,   // text/plain; version=0.0.4 (what promtool and curl read)
};

// The Content-Type header value of `format`.
[[nodiscard]] const char* content_type(ExpositionFormat format) noexcept;

// One label: name="value". Names must match [a-zA-Z_][a-zA-Z0-9_]*; values
// are escaped on output (backslash, double quote, newline).
using Label = std::pair<std::string_view, std::string_view>;
using Labels = std::initializer_list<Label>;

class MetricWriter {
 public:
  using FamilyId = std::size_t;

  // Declares a family, or returns the one of that name declared earlier in
  // this scrape. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*, must not end in
  // "_total" (counters get it on each sample) and, when `unit` is not empty,
  // must end in "_" + unit (OpenMetrics 1.0, "Unit"). A name that breaks a
  // rule, or one declared again with another type, is a programming error
  // (asserts in debug builds).
  FamilyId family(std::string_view name, MetricType type, std::string_view unit, std::string_view help);

  // Appends one sample to a counter, gauge or unknown family.
  void sample(FamilyId family, Labels labels, std::uint64_t value);
  void sample(FamilyId family, Labels labels, double value);

  // Appends one summary (a latency histogram): one sample per quantile
  // (quantile="0.999"), then NAME_count and NAME_sum.
  void summary(FamilyId family, Labels labels, std::span<const std::pair<double, double>> quantile_values,
               std::uint64_t count, double sum);

  // Renders every family declared since the last clear(), in declaration
  // order, appending to `out`; OpenMetrics ends with "# EOF\n".
  void render(std::string& out, ExpositionFormat format) const;

  // Forgets every family and sample; keeps the buffers.
  void clear() noexcept;

  // Samples written since the last clear() (the series count of a scrape).
  [[nodiscard]] std::size_t series() const noexcept { return series_; }

 private:
  struct Family {
    std::string name;
    MetricType type = MetricType::gauge;
    std::string unit;
    std::string help;
    std::string body;  // rendered sample lines
  };
  // Starts a sample line (name, suffix, labels, extra label) in the
  // family's body and points target_ at it for the value.
  void begin_sample(FamilyId family, std::string_view suffix, Labels labels, const Label* extra);

  std::vector<Family> families_;  // [0, used_) are this scrape's
  std::size_t used_ = 0;
  std::size_t series_ = 0;
  std::string* target_ = nullptr;  // the body begin_sample() writes into
};

}  // namespace aether::telemetry
