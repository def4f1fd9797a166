// measure_ring_round_trip: argument checks and a short real run. No timing
// is asserted (only that the numbers are present and self-consistent).
#include "aether/ring/round_trip.hpp"

#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aether/core/cpu_list.hpp"
#include "aether/core/thread_setup.hpp"

namespace aether {
namespace {

// CPUs this thread may run on (its affinity: the cpuset and any taskset the
// test runner was started under); empty if that cannot be read.
std::vector<unsigned> usable_cpus() {
  auto cpus = allowed_cpus();
  return cpus ? std::move(cpus).value() : std::vector<unsigned>{};
}

void expect_invalid(const RingRoundTripConfig& config, const std::string& expected_text) {
  auto result = measure_ring_round_trip(config);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, std::errc::invalid_argument);
  EXPECT_NE(result.error().message.find(expected_text), std::string::npos) << result.error().message;
}

TEST(RingRoundTrip, RefusesOneCpuForBothThreads) {
  expect_invalid({.initiator_cpu = 0, .responder_cpu = 0}, "both CPU 0");
}

TEST(RingRoundTrip, RefusesCpuOutOfRange) {
  expect_invalid({.initiator_cpu = 0, .responder_cpu = 100'000}, "responder_cpu 100000");
  expect_invalid({.initiator_cpu = max_cpu_id + 1, .responder_cpu = 0}, "initiator_cpu " + std::to_string(max_cpu_id + 1));
}

TEST(RingRoundTrip, RefusesOfflineCpu) {
  std::ifstream file("/sys/devices/system/cpu/online");
  std::string text;
  if (!file || !std::getline(file, text)) GTEST_SKIP() << "no /sys/devices/system/cpu/online";
  auto online = parse_cpu_list(text);
  ASSERT_TRUE(online.ok()) << online.error().describe();
  ASSERT_FALSE(online->empty());
  const unsigned offline = online->back() + 1;  // beyond the last online CPU
  if (offline > max_cpu_id) GTEST_SKIP() << "every CPU number up to max_cpu_id is online";
  const unsigned partner = online->front();
  expect_invalid({.initiator_cpu = partner, .responder_cpu = offline},
                 "responder_cpu " + std::to_string(offline) + " is not online");
}

TEST(RingRoundTrip, RefusesBadCounts) {
  expect_invalid({.initiator_cpu = 0, .responder_cpu = 1, .messages = 0}, "messages 0");
  expect_invalid({.initiator_cpu = 0, .responder_cpu = 1, .messages = ring_round_trip_max_messages + 1},
                 "messages " + std::to_string(ring_round_trip_max_messages + 1));
  expect_invalid({.initiator_cpu = 0, .responder_cpu = 1, .message_size = 48}, "message_size 48");
  expect_invalid({.initiator_cpu = 0, .responder_cpu = 1, .message_size = 8}, "message_size 8");
}

void expect_sane(const RingRoundTripResult& result, const RingRoundTripConfig& config) {
  EXPECT_EQ(result.messages, config.messages);
  EXPECT_EQ(result.round_trip_ns.count(), config.messages);
  EXPECT_GT(result.round_trip_ns.min(), 0u);
  EXPECT_GE(result.round_trip_ns.max(), result.round_trip_ns.min());
  EXPECT_GE(result.round_trip_ns.percentile(99), result.round_trip_ns.percentile(50));
  EXPECT_GT(result.elapsed_ns, 0u);
  EXPECT_EQ(result.initiator_cpu, config.initiator_cpu);
  EXPECT_EQ(result.responder_cpu, config.responder_cpu);
  EXPECT_EQ(result.message_size, config.message_size);
  EXPECT_GT(result.ticks_per_ns, 0.0);
}

TEST(RingRoundTrip, ShortRunRecordsEveryMessage) {
  const std::vector<unsigned> cpus = usable_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "needs two allowed CPUs, have " << cpus.size();
  const RingRoundTripConfig config{
      .initiator_cpu = cpus[0], .responder_cpu = cpus[1], .warmup_messages = 100, .messages = 5'000};
  auto result = measure_ring_round_trip(config);
  ASSERT_TRUE(result.ok()) << result.error().describe();
  expect_sane(*result, config);

  const nlohmann::json json = *result;
  EXPECT_EQ(json.at("messages"), config.messages);
  EXPECT_EQ(json.at("initiator_cpu"), config.initiator_cpu);
  EXPECT_EQ(json.at("round_trip_ns").at("count"), config.messages);
}

TEST(RingRoundTrip, SmallestAndLargestMessagesWithoutWarmup) {
  const std::vector<unsigned> cpus = usable_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "needs two allowed CPUs, have " << cpus.size();
  for (const std::size_t size : {std::size_t{16}, std::size_t{4096}}) {
    // Responder on the lower CPU this time, to cover both directions.
    const RingRoundTripConfig config{.initiator_cpu = cpus[1],
                                     .responder_cpu = cpus[0],
                                     .warmup_messages = 0,
                                     .messages = 1'000,
                                     .message_size = size};
    auto result = measure_ring_round_trip(config);
    ASSERT_TRUE(result.ok()) << result.error().describe();
    expect_sane(*result, config);
  }
}

}  // namespace
}  // namespace aether
