// The latency table must not mislead: factors read "N x lower/higher", a
// path that could not keep up is marked in its own row, the plot's axis
// names its percentiles.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aether/measure/comparison.hpp"
#include "aether/measure/latency_bench.hpp"

namespace aether::measure {
namespace {

TEST(FormatFactor, ReadsAsLowerOrHigherWithThreeDigits) {
  EXPECT_EQ(format_factor(1'000, 14'200), "14.2x lower");
  EXPECT_EQ(format_factor(14'200, 1'000), "14.2x higher");
  EXPECT_EQ(format_factor(1.31, 1.0), "1.31x higher");
  EXPECT_EQ(format_factor(1, 140), "140x lower");
  EXPECT_EQ(format_factor(100, 100.2), "same");
  EXPECT_EQ(format_factor(0, 5), "-");
  EXPECT_EQ(format_factor(5, 0), "-");
  // Never a bare fraction such as "0.000x".
  EXPECT_EQ(format_factor(1, 1e7).find("0.0"), std::string::npos);
}

// A histogram whose every sample is `ns`.
LatencyHistogram constant(std::uint64_t ns, int samples = 1000) {
  LatencyHistogram h;
  for (int i = 0; i < samples; ++i) h.record(ns);
  return h;
}

BackendLatency path(const std::string& name, double rate, std::uint64_t round_trip_ns, std::uint64_t received,
                    std::uint64_t elapsed_ns) {
  BackendLatency b;
  b.backend.name = name;
  b.rate_per_second = rate;
  b.generator.round_trip_ns = constant(round_trip_ns);
  b.generator.sent = received;
  b.generator.received = received;
  b.generator.elapsed_ns = elapsed_ns;
  return b;
}

LatencyBenchReport report_with(std::vector<BackendLatency> backends) {
  LatencyBenchReport report;
  report.config.rate_per_second = 100'000;
  report.config.seconds = 2;
  report.clock = "tsc 2.300 GHz";
  report.backends = std::move(backends);
  return report;
}

// The row of `name` in the table (the line starting with it).
std::string row_of(const std::string& table, const std::string& name) {
  std::size_t at = 0;
  while ((at = table.find('\n' + name + ' ', at)) != std::string::npos) {
    const auto end = table.find('\n', at + 1);
    return table.substr(at + 1, end - at - 1);
  }
  return {};
}

TEST(LatencyTable, FactorsAreAgainstAfxdpAndReadAsWords) {
  // 200k replies in 2 s: every path kept up with 100k/s.
  auto report = report_with({path("udp", 100'000, 50'000, 200'000, 2'000'000'000),
                             path("afxdp", 100'000, 10'000, 200'000, 2'000'000'000),
                             path("memif", 100'000, 1'000, 200'000, 2'000'000'000)});
  const std::string table = format_latency_table(report);
  EXPECT_NE(table.find("p50 vs afxdp"), std::string::npos) << table;
  EXPECT_NE(row_of(table, "memif").find("10.0x lower"), std::string::npos) << table;
  EXPECT_NE(row_of(table, "udp").find("5.00x higher"), std::string::npos) << table;
  EXPECT_NE(row_of(table, "afxdp").find("same"), std::string::npos) << table;
  EXPECT_EQ(table.find("0.000x"), std::string::npos) << table;
  EXPECT_EQ(table.find("OVERLOADED"), std::string::npos) << table;
  EXPECT_EQ(latency_report_to_json(report)["reference_path"], "afxdp");
}

TEST(LatencyTable, APathThatCouldNotKeepUpIsMarkedInItsRow) {
  // udp-block answered 80k in 2 s of the 200k offered: 40k/s of 100k/s.
  auto report = report_with({path("udp-block", 100'000, 120'000'000, 80'000, 2'000'000'000),
                             path("afxdp", 100'000, 10'000, 200'000, 2'000'000'000)});
  const std::string table = format_latency_table(report);
  const std::string row = row_of(table, "udp-block");
  EXPECT_NE(row.find("OVERLOADED: sustained 40k/s of 100k/s"), std::string::npos) << table;
  // Its percentiles are a queue's: no factor is printed for it.
  EXPECT_EQ(row.find("higher"), std::string::npos) << table;
  const auto json = latency_report_to_json(report);
  EXPECT_TRUE(json["paths"][0]["overloaded"].get<bool>());
  EXPECT_DOUBLE_EQ(json["paths"][0]["sustained_per_second"].get<double>(), 40'000);
  EXPECT_FALSE(json["paths"][1]["overloaded"].get<bool>());
}

TEST(LatencyTable, AnOverloadedReferenceIsNotUsedAndARerunRowNamesItsRate) {
  auto slow_afxdp = path("afxdp", 100'000, 90'000'000, 100'000, 2'000'000'000);
  auto rerun = path("afxdp", 40'000, 20'000, 80'000, 2'000'000'000);
  auto report = report_with({path("udp", 100'000, 50'000, 200'000, 2'000'000'000), slow_afxdp, rerun});
  report.config.rerun_overloaded = true;
  const std::string table = format_latency_table(report);
  EXPECT_NE(table.find("p50 vs udp"), std::string::npos) << table;
  EXPECT_NE(row_of(table, "afxdp @40k/s").find("2.50x lower"), std::string::npos) << table;
  EXPECT_NE(row_of(table, "afxdp").find("OVERLOADED"), std::string::npos) << table;
  EXPECT_EQ(latency_report_to_json(report)["paths"][2]["label"], "afxdp @40k/s");
}

TEST(LatencyTable, ClosedLoopIsNeverOverloadedAndHostNoiseIsPrinted) {
  auto report = report_with({path("udp", 0, 50'000, 1'000, 2'000'000'000)});
  report.config.rate_per_second = 0;
  report.config.host_noise = LatencyBenchConfig::HostNoise{9'100'000, 1, 2.0};
  const std::string table = format_latency_table(report);
  EXPECT_EQ(table.find("OVERLOADED"), std::string::npos) << table;
  EXPECT_NE(table.find("longest gap 9.10 ms on CPU 1"), std::string::npos) << table;
}

TEST(LatencySvg, AxisLabelsNameTheirPercentiles) {
  EXPECT_EQ(nines_label(0), "p0");
  EXPECT_EQ(nines_label(1), "p90");
  EXPECT_EQ(nines_label(2), "p99");
  EXPECT_EQ(nines_label(3), "p99.9");
  EXPECT_EQ(nines_label(5), "p99.999");
  auto report = report_with({path("udp-block", 100'000, 120'000'000, 80'000, 2'000'000'000)});
  const std::string svg = latency_report_to_svg(report);
  EXPECT_NE(svg.find(">p90<"), std::string::npos);
  EXPECT_NE(svg.find("udp-block (overloaded)"), std::string::npos);
}

}  // namespace
}  // namespace aether::measure
