// Sources over live objects: a real worker thread writing its loop counters
// while the test scrapes (TSan checks the single-writer contract), and a
// latency histogram as a summary.
#include "aether/telemetry/dataplane_metrics.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "aether/core/thread_setup.hpp"
#include "aether/telemetry/scrape_client.hpp"

namespace aether::telemetry {
namespace {

// Works every other poll.
class HalfBusy final : public dataplane::Poller {
 public:
  bool poll() noexcept override { return (++polls_ & 1U) == 0; }

 private:
  unsigned polls_ = 0;
};

double value_of(const std::vector<ScrapedSample>& samples, std::string_view name) {
  for (const auto& sample : samples) {
    if (sample.name == name) return sample.value;
  }
  ADD_FAILURE() << "no " << name;
  return -1;
}

TEST(DataplaneMetrics, AWorkersLoopCountersAreReadWhileItRuns) {
  auto cpus = allowed_cpus();
  ASSERT_TRUE(cpus);
  HalfBusy poller;
  auto worker = dataplane::Worker::start({cpus->back(), std::nullopt, "metrics-test"}, {&poller});
  ASSERT_TRUE(worker) << worker.error().describe();
  MetricsRegistry registry;
  const SourceHandle source = add_worker(registry, **worker);
  MetricWriter writer;
  std::string text;
  double loops = 0;
  for (int i = 0; i < 1000 && loops < 1000; ++i) {
    registry.scrape_text(writer, text, ExpositionFormat::openmetrics);
    auto samples = parse_exposition(text);
    ASSERT_TRUE(samples) << samples.error().describe();
    loops = value_of(*samples, "aether_worker_loops_total");
    const double busy = value_of(*samples, "aether_worker_busy_loops_total");
    EXPECT_LE(busy, loops);  // busy is read first
    EXPECT_NE(text.find("cpu=\"" + std::to_string(cpus->back()) + "\""), std::string::npos);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(loops, 1000);
  const dataplane::WorkerStats stats = (*worker)->join();
  EXPECT_EQ((*worker)->counters().loops.get(), stats.loops);
  EXPECT_EQ((*worker)->counters().busy_loops.get(), stats.busy_loops);
}

TEST(DataplaneMetrics, ALatencyHistogramIsASummaryInSeconds) {
  LatencyHistogram histogram;
  for (std::uint64_t ns = 1; ns <= 1000; ++ns) histogram.record(ns * 1000);  // 1 us .. 1 ms
  MetricWriter writer;
  write_latency_summary(writer, writer.family("aether_rtt_seconds", MetricType::summary, "seconds", "RTT"),
                        {{"poller", "p"}}, histogram);
  std::string text;
  writer.render(text, ExpositionFormat::openmetrics);
  auto samples = parse_exposition(text);
  ASSERT_TRUE(samples) << samples.error().describe();
  for (const auto& sample : *samples) {
    if (sample.label("quantile") == "0.5") {
      EXPECT_NEAR(sample.value, 500e-6, 500e-6 * 0.01);
    } else if (sample.label("quantile") == "0.999") {
      EXPECT_NEAR(sample.value, 999e-6, 999e-6 * 0.01);
    } else if (sample.label("quantile") == "1") {
      EXPECT_EQ(sample.value, 1e-3);
    }
  }
  EXPECT_EQ(value_of(*samples, "aether_rtt_seconds_count"), 1000);
  EXPECT_NEAR(value_of(*samples, "aether_rtt_seconds_sum"), 0.5005, 1e-9);
}

// A live series: what the histogram's writer published by the scrape (the
// first scrape asks; the writer's next publish answers).
TEST(DataplaneMetrics, APublishedHistogramIsScrapedAsItsLatestCopy) {
  PublishedHistogram histogram;
  MetricsRegistry registry;
  const SourceHandle source =
      add_latency_histogram(registry, histogram, "aether_ping_round_trip_seconds", "RTT", "poller", "ping");
  MetricWriter writer;
  std::string text;
  histogram.live().record(2000);
  histogram.publish();  // the first copy is always asked for
  histogram.live().record(4000);
  registry.scrape_text(writer, text, ExpositionFormat::prometheus);
  auto samples = parse_exposition(text);
  ASSERT_TRUE(samples) << samples.error().describe();
  EXPECT_EQ(value_of(*samples, "aether_ping_round_trip_seconds_count"), 1);  // the copy, not the live histogram
  histogram.publish();
  registry.scrape_text(writer, text, ExpositionFormat::prometheus);
  samples = parse_exposition(text);
  ASSERT_TRUE(samples) << samples.error().describe();
  EXPECT_EQ(value_of(*samples, "aether_ping_round_trip_seconds_count"), 2);
  bool saw_max = false;
  for (const auto& sample : *samples) {
    if (sample.name != "aether_ping_round_trip_seconds" || sample.label("quantile") != "1") continue;
    EXPECT_EQ(sample.label("poller"), "ping");
    EXPECT_NEAR(sample.value, 4e-6, 1e-12);
    saw_max = true;
  }
  EXPECT_TRUE(saw_max) << text;
}

}  // namespace
}  // namespace aether::telemetry
