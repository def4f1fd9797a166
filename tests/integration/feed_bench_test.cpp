// `aether bench feed` end to end on memif (no root needed for it): a short
// day at 100k msg/s gives a complete row with tick-to-trade and wire-to-wire
// percentiles in the table and the JSON. Timing is printed, never asserted.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "run_command.hpp"

namespace aether::test {
namespace {

TEST(FeedBench, MemifRowHasEveryFigureInTableAndJson) {
  const std::string json_path = testing::TempDir() + "aether_feed_bench.json";
  const auto result = run_command(std::string(AETHER_CLI_PATH) +
                                  " bench feed --backends memif --rates 100000,max --messages 20000 --symbols 100"
                                  " --json " + json_path);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("memif"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("t2t p50"), std::string::npos) << result.out;
  std::ifstream file(json_path);
  const auto report = nlohmann::json::parse(file, nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  ASSERT_EQ(report["rows"].size(), 2u);
  for (const auto& row : report["rows"]) {
    EXPECT_EQ(row["path"], "memif");
    EXPECT_EQ(row["error"], "");
    EXPECT_TRUE(row["complete"]) << row.dump() << "\n" << result.out;
    EXPECT_EQ(row["messages"], 20000);
    for (const char* figure : {"tick_to_trade", "wire_to_wire"}) {
      EXPECT_GT(row[figure]["count"].get<std::uint64_t>(), 0u) << figure;
      EXPECT_LE(row[figure]["p50_ns"].get<std::uint64_t>(), row[figure]["p99.9_ns"].get<std::uint64_t>());
      EXPECT_LE(row[figure]["p99.9_ns"].get<std::uint64_t>(), row[figure]["max_ns"].get<std::uint64_t>());
    }
  }
  std::remove(json_path.c_str());
}

}  // namespace
}  // namespace aether::test
