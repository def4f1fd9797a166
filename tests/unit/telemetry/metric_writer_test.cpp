// The text renderer: family grouping, HELP/TYPE/UNIT, counters' _total,
// escaping, summaries, both formats, and the round trip through our parser.
#include "aether/telemetry/metric_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "aether/telemetry/registry.hpp"
#include "aether/telemetry/scrape_client.hpp"

namespace aether::telemetry {
namespace {

TEST(MetricWriter, OpenMetricsGroupsSamplesUnderOneFamilyAndEndsWithEof) {
  MetricWriter writer;
  const auto packets = writer.family("aether_queue_rx_packets", MetricType::counter, "", "Packets");
  const auto bytes = writer.family("aether_queue_rx_bytes", MetricType::counter, "bytes", "Bytes");
  writer.sample(packets, {{"port", "a"}}, std::uint64_t{1});
  writer.sample(bytes, {{"port", "a"}}, std::uint64_t{64});
  // Declared again in the same scrape (a second port): the same family.
  EXPECT_EQ(writer.family("aether_queue_rx_packets", MetricType::counter, "", "Packets"), packets);
  writer.sample(packets, {{"port", "b"}}, std::numeric_limits<std::uint64_t>::max());
  std::string text;
  writer.render(text, ExpositionFormat::openmetrics);
  EXPECT_EQ(text,
            "# HELP aether_queue_rx_packets Packets\n"
            "# TYPE aether_queue_rx_packets counter\n"
            "aether_queue_rx_packets_total{port=\"a\"} 1\n"
            "aether_queue_rx_packets_total{port=\"b\"} 18446744073709551615\n"
            "# HELP aether_queue_rx_bytes Bytes\n"
            "# TYPE aether_queue_rx_bytes counter\n"
            "# UNIT aether_queue_rx_bytes bytes\n"
            "aether_queue_rx_bytes_total{port=\"a\"} 64\n"
            "# EOF\n");
  EXPECT_EQ(writer.series(), 3u);
}

TEST(MetricWriter, PrometheusFormatNamesCounterFamiliesWithTotalAndHasNoUnitOrEof) {
  MetricWriter writer;
  writer.sample(writer.family("aether_x_bytes", MetricType::counter, "bytes", "X"), {}, std::uint64_t{5});
  writer.sample(writer.family("aether_xstat", MetricType::unknown, "", "Y"), {{"name", "n"}}, std::uint64_t{7});
  std::string text;
  writer.render(text, ExpositionFormat::prometheus);
  EXPECT_EQ(text,
            "# HELP aether_x_bytes_total X\n"
            "# TYPE aether_x_bytes_total counter\n"
            "aether_x_bytes_total 5\n"
            "# HELP aether_xstat Y\n"
            "# TYPE aether_xstat untyped\n"
            "aether_xstat{name=\"n\"} 7\n");
}

TEST(MetricWriter, EscapesLabelValuesAndHelp) {
  MetricWriter writer;
  const auto family = writer.family("aether_port_info", MetricType::gauge, "", "a \\ and\na newline");
  writer.sample(family, {{"spec", "udp:1.2.3.4:9?x=\"y\"\\z\n"}}, 1.5);
  std::string text;
  writer.render(text, ExpositionFormat::openmetrics);
  EXPECT_NE(text.find("# HELP aether_port_info a \\\\ and\\na newline\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aether_port_info{spec=\"udp:1.2.3.4:9?x=\\\"y\\\"\\\\z\\n\"} 1.5\n"), std::string::npos) << text;
  // Our own parser gives the original value back.
  auto samples = parse_exposition(text);
  ASSERT_TRUE(samples) << samples.error().describe();
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_EQ((*samples)[0].label("spec"), "udp:1.2.3.4:9?x=\"y\"\\z\n");
  EXPECT_EQ((*samples)[0].value, 1.5);
}

TEST(MetricWriter, SpecialValuesAreSpelledAsBothFormatsRequire) {
  MetricWriter writer;
  const auto family = writer.family("aether_g", MetricType::gauge, "", "g");
  writer.sample(family, {{"v", "nan"}}, std::nan(""));
  writer.sample(family, {{"v", "inf"}}, std::numeric_limits<double>::infinity());
  writer.sample(family, {{"v", "-inf"}}, -std::numeric_limits<double>::infinity());
  std::string text;
  writer.render(text, ExpositionFormat::openmetrics);
  EXPECT_NE(text.find("{v=\"nan\"} NaN\n"), std::string::npos);
  EXPECT_NE(text.find("{v=\"inf\"} +Inf\n"), std::string::npos);
  EXPECT_NE(text.find("{v=\"-inf\"} -Inf\n"), std::string::npos);
}

TEST(MetricWriter, SummaryHasQuantilesCountAndSum) {
  MetricWriter writer;
  const auto family = writer.family("aether_rtt_seconds", MetricType::summary, "seconds", "RTT");
  const std::pair<double, double> quantiles[] = {{0.5, 1e-6}, {0.999, 2.5e-6}};
  writer.summary(family, {{"poller", "p"}}, quantiles, 10, 1.2e-5);
  std::string text;
  writer.render(text, ExpositionFormat::openmetrics);
  EXPECT_NE(text.find("aether_rtt_seconds{poller=\"p\",quantile=\"0.5\"} 1e-06\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aether_rtt_seconds{poller=\"p\",quantile=\"0.999\"} 2.5e-06\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aether_rtt_seconds_count{poller=\"p\"} 10\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aether_rtt_seconds_sum{poller=\"p\"} 1.2e-05\n"), std::string::npos) << text;
  EXPECT_EQ(writer.series(), 4u);
}

TEST(MetricWriter, ClearForgetsTheScrapeButTheNextOneRendersTheSame) {
  MetricWriter writer;
  std::string first, second;
  for (std::string* out : {&first, &second}) {
    writer.clear();
    writer.sample(writer.family("aether_a", MetricType::gauge, "", "a"), {}, std::uint64_t{1});
    writer.render(*out, ExpositionFormat::openmetrics);
  }
  EXPECT_EQ(first, second);
}

TEST(MetricsRegistry, SourcesRunInOrderAndLeaveWithTheirHandle) {
  MetricsRegistry registry;
  MetricWriter writer;
  std::string text;
  auto first = registry.add([](MetricWriter& w) { w.sample(w.family("aether_first", MetricType::gauge, "", "1"), {}, 1.0); });
  {
    auto second = registry.add([](MetricWriter& w) { w.sample(w.family("aether_second", MetricType::gauge, "", "2"), {}, 2.0); });
    registry.scrape_text(writer, text, ExpositionFormat::openmetrics);
    EXPECT_LT(text.find("aether_first 1"), text.find("aether_second 2"));
    EXPECT_NE(text.find("aether_scrape_series 2\n"), std::string::npos) << text;
  }
  registry.scrape_text(writer, text, ExpositionFormat::openmetrics);
  EXPECT_EQ(text.find("aether_second"), std::string::npos);
  EXPECT_NE(text.find("aether_first 1"), std::string::npos);
  EXPECT_TRUE(text.ends_with("# EOF\n"));
}

TEST(ParseExposition, RejectsMalformedLinesByNumber) {
  EXPECT_FALSE(parse_exposition("ok 1\nbad{x=\"1\" 2\n"));
  auto error = parse_exposition("# c\nname notanumber\n");
  ASSERT_FALSE(error);
  EXPECT_NE(error.error().message.find("line 2"), std::string::npos) << error.error().message;
  auto fine = parse_exposition("a{b=\"c\",d=\"e\"} 3 1700000000\n# EOF\n");
  ASSERT_TRUE(fine);
  EXPECT_EQ((*fine)[0].label("d"), "e");
  EXPECT_EQ((*fine)[0].value, 3);
}

}  // namespace
}  // namespace aether::telemetry
