#include "aether/jitter/jitter_meter.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aether/core/thread_setup.hpp"

namespace aether {
namespace {

JitterConfig one_cpu_config() {
  JitterConfig config;
  auto allowed = allowed_cpus();
  EXPECT_TRUE(allowed.ok());
  config.cpus = {allowed->front()};
  config.duration = std::chrono::milliseconds(50);
  config.lock_memory = false;  // unprivileged
  return config;
}

TEST(JitterValidate, RejectsEmptyCpuList) {
  JitterConfig config = one_cpu_config();
  config.cpus.clear();
  EXPECT_FALSE(validate(config).ok());
}

TEST(JitterValidate, RejectsNonPositiveDuration) {
  JitterConfig config = one_cpu_config();
  config.duration = std::chrono::nanoseconds(0);
  const auto result = validate(config);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("duration"), std::string::npos);
}

TEST(JitterValidate, RejectsDuplicateCpus) {
  JitterConfig config = one_cpu_config();
  config.cpus.push_back(config.cpus.front());
  EXPECT_FALSE(validate(config).ok());
}

TEST(JitterValidate, RejectsAbsentCpuByNumber) {
  JitterConfig config = one_cpu_config();
  config.cpus = {4000};
  const auto result = validate(config);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("CPU 4000"), std::string::npos) << result.error().message;
}

TEST(JitterValidate, RejectsOutOfRangePriority) {
  JitterConfig config = one_cpu_config();
  config.fifo_priority = 100;
  EXPECT_FALSE(validate(config).ok());
}

TEST(JitterMeasure, AccountsForTheWholeWindow) {
  const JitterConfig config = one_cpu_config();
  const Clock clock = Clock::calibrate(std::chrono::milliseconds(20));
  auto report = measure_jitter(config, clock);
  ASSERT_TRUE(report.ok()) << report.error().describe();
  ASSERT_EQ(report->cpus.size(), 1u);
  const CpuJitter& cpu = report->cpus.front();
  EXPECT_EQ(cpu.cpu, config.cpus.front());
  EXPECT_GT(cpu.loop_iterations, 0u);
  EXPECT_GT(cpu.measured_ns, 0u);
  EXPECT_LE(cpu.stolen_ns, cpu.measured_ns);
  EXPECT_LE(cpu.longest_gap_ns, cpu.stolen_ns);
  if (cpu.interruptions() > 0) {
    EXPECT_GE(cpu.gaps.min(), config.threshold_ns);
    EXPECT_LE(cpu.longest_gap_offset_ns, cpu.measured_ns);
  }
  const auto json = jitter_to_json(*report);
  EXPECT_EQ(json["cpus"][0]["interruptions"].get<std::uint64_t>(), cpu.interruptions());
  EXPECT_NE(format_jitter_table(*report).find("interrupts/s"), std::string::npos);
}

TEST(JitterFormat, DurationsHaveThreeSignificantDigits) {
  EXPECT_EQ(format_duration_ns(812), "812 ns");
  EXPECT_EQ(format_duration_ns(3400), "3.40 us");
  EXPECT_EQ(format_duration_ns(48'100'000), "48.1 ms");
  EXPECT_EQ(format_duration_ns(123'000'000'000), "123 s");
}

}  // namespace
}  // namespace aether
