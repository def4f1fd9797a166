// --repeat N --sched both: the summaries give the median and range of each
// figure over the rounds, per path, scheduling and size, and ratios of
// Aether and DPDK measured in the same round.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aether/measure/latency_rounds.hpp"
#include "aether/measure/latency_vs_dpdk.hpp"
#include "aether/measure/throughput_bench.hpp"

namespace aether::measure {
namespace {

CpuAccounting two_workers(const char* a, double a_share, const char* b, double b_share) {
  CpuAccounting cpu;
  cpu.seconds = 1.0;
  cpu.threads.push_back(ThreadUsage{1, 2, a, 0, static_cast<std::uint64_t>(a_share * 1e9), 0, 0, 0});
  cpu.threads.push_back(ThreadUsage{1, 3, b, 1, static_cast<std::uint64_t>(b_share * 1e9), 0, 0, 0});
  return cpu;
}

TEST(ThroughputSummary, MedianAndRangeOfEachFigureAndOfSameRoundRatios) {
  ThroughputBenchReport report;
  report.config.vs_dpdk = true;
  report.config.repeat = 3;
  const BenchBackend memif{"memif", "memif", "", "", "", "", ""};
  for (unsigned round = 1; round <= 3; ++round) {
    ThroughputResult r;
    r.backend = memif;
    r.frame_size = 64;
    r.round = round;
    r.seconds = 1.0;
    r.received = round * 1'000'000;  // 1, 2, 3 Mpps
    r.cpu = two_workers("aether-send", 0.5, "aether-sink", 0.9);
    r.dpdk_mpps = 1.0;
    r.dpdk_cpu = two_workers("rte-worker-0", 1.0, "rte-worker-1", 1.0);
    report.results.push_back(r);
  }
  const std::string text = format_throughput_summary(report);
  EXPECT_NE(text.find("2.000 [1.000..3.000]"), std::string::npos) << text;  // Aether Mpps
  EXPECT_NE(text.find("2.00 [1.00..3.00]"), std::string::npos) << text;     // Aether / DPDK
  EXPECT_NE(text.find("4.000 [2.000..6.000]"), std::string::npos) << text;  // per CPU second of the slower worker (0.5)
  const auto json = throughput_report_to_json(report);
  ASSERT_EQ(json["summary"].size(), 1u);
  EXPECT_DOUBLE_EQ(json["summary"][0]["aether_mpps"]["median"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(json["summary"][0]["aether_slower_worker_cpu_share"]["median"].get<double>(), 0.5);
  EXPECT_EQ(json["results"].size(), 3u);
  EXPECT_EQ(json["results"][2]["round"], 3);
}

BackendLatency row(const char* name, std::uint64_t ns) {
  BackendLatency out;
  out.backend.name = name;
  out.backend.kind = "memif";
  out.rate_per_second = 0;
  for (int i = 0; i < 100; ++i) out.generator.round_trip_ns.record(ns);
  return out;
}

TEST(LatencyRoundsSummary, EachRowAndEachRoleAgainstDpdkPerScheduling) {
  LatencyRounds rounds;
  for (unsigned round = 1; round <= 2; ++round) {
    for (const std::optional<int> fifo : {std::optional<int>{}, std::optional<int>{50}}) {
      LatencyRun run;
      run.round = round;
      run.fifo_priority = fifo;
      run.report.config.rate_per_second = 0;
      run.report.config.vs_dpdk = true;
      run.report.backends = {row("memif", 1000 * round), row(memif_aether_to_testpmd, 500),
                             row(memif_dpdk_to_aether, 2000), row(memif_dpdk_to_testpmd, 1000)};
      rounds.runs.push_back(std::move(run));
    }
  }
  const std::string text = format_latency_rounds(rounds);
  EXPECT_NE(text.find("=== round 2, fifo50 ==="), std::string::npos);
  EXPECT_NE(text.find("generator / DPDK (memif aether>testpmd)"), std::string::npos) << text;
  const auto json = latency_rounds_to_json(rounds);
  EXPECT_EQ(json["runs"].size(), 4u);
  bool found_ratio = false;
  for (const auto& line : json["summary"]) {
    if (line.contains("ratio") && line["sched"] == "other" && line["ratio"] == "responder / DPDK (memif dpdk>aether)") {
      found_ratio = true;
      EXPECT_NEAR(line["p50_aether_over_dpdk"]["median"].get<double>(), 2.0, 0.05);
    }
    if (line.contains("row") && line["row"] == "memif" && line["sched"] == "fifo50") {
      EXPECT_EQ(line["p50_ns"]["runs"], 2u);
      EXPECT_LE(line["p50_ns"]["min"].get<double>(), line["p50_ns"]["max"].get<double>());
    }
  }
  EXPECT_TRUE(found_ratio) << json["summary"].dump();
}

}  // namespace
}  // namespace aether::measure
