// Gap detection: every gap in a generated day with packets dropped is found,
// with the exact missing ranges; duplicates and partial overlaps are
// skipped to the first new block; quiet-period loss shows on heartbeats.
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "aether/feed/day_generator.hpp"
#include "aether/feed/sequence_tracker.hpp"

namespace aether::feed {
namespace {

TEST(SequenceTracker, InOrderPacketsNeedNothing) {
  SequenceTracker tracker;
  auto decision = tracker.on_data(1, 10);
  EXPECT_EQ(decision.gap_count, 0u);
  EXPECT_EQ(decision.skip_blocks, 0u);
  EXPECT_FALSE(decision.duplicate);
  decision = tracker.on_data(11, 5);
  EXPECT_EQ(decision.gap_count, 0u);
  EXPECT_EQ(tracker.next_expected(), 16u);
  EXPECT_EQ(tracker.on_heartbeat(16).gap_count, 0u);
}

TEST(SequenceTracker, GapDuplicateAndOverlap) {
  SequenceTracker tracker;
  (void)tracker.on_data(1, 10);
  auto decision = tracker.on_data(15, 5);  // 11..14 lost
  EXPECT_EQ(decision.gap_first, 11u);
  EXPECT_EQ(decision.gap_count, 4u);
  EXPECT_EQ(tracker.next_expected(), 20u);
  decision = tracker.on_data(15, 5);  // the same packet again
  EXPECT_TRUE(decision.duplicate);
  decision = tracker.on_data(18, 4);  // 18, 19 seen; 20, 21 new
  EXPECT_FALSE(decision.duplicate);
  EXPECT_EQ(decision.skip_blocks, 2u);
  EXPECT_EQ(decision.gap_count, 0u);
  EXPECT_EQ(tracker.next_expected(), 22u);
  decision = tracker.on_heartbeat(25);  // 22..24 lost in a quiet period
  EXPECT_EQ(decision.gap_first, 22u);
  EXPECT_EQ(decision.gap_count, 3u);
  EXPECT_EQ(tracker.on_heartbeat(25).gap_count, 0u);
  const SequenceCounters& counters = tracker.counters();
  EXPECT_EQ(counters.gaps, 2u);
  EXPECT_EQ(counters.messages_missed, 7u);
  EXPECT_EQ(counters.duplicate_packets, 1u);
  EXPECT_EQ(counters.overlapping_packets, 1u);
}

TEST(SequenceTracker, FindsEveryGapInjectedIntoAGeneratedDay) {
  DayConfig config;
  config.seed = 3;
  config.symbols = 200;
  config.messages = 200'000;
  std::mt19937_64 random(9);
  SequenceTracker tracker;
  DropCounters drops;
  std::uint64_t injected_gaps = 0;
  std::uint64_t injected_messages = 0;
  std::uint64_t detected_messages = 0;
  bool previous_dropped = false;
  std::uint64_t dropped_run = 0;  // messages lost in the current run of dropped packets
  std::vector<std::pair<std::uint64_t, std::uint64_t>> expected;  // gap first, count
  std::vector<std::pair<std::uint64_t, std::uint64_t>> detected;
  std::uint64_t run_first = 0;
  const PacketSink sink = [&](std::span<const std::byte> packet, std::uint64_t) -> Result<void> {
    // Drop about 1 packet in 50 of any kind (data and heartbeats).
    if (random() % 50 == 0) {
      const auto info = mold::parse_packet(packet, drops, [](std::uint64_t, std::span<const std::byte>) {});
      if (info.kind == mold::PacketKind::data) {
        if (!previous_dropped || dropped_run == 0) run_first = info.sequence_number;
        dropped_run += info.message_count;
      }
      previous_dropped = true;
      return {};
    }
    const auto info = mold::parse_packet(packet, drops, [](std::uint64_t, std::span<const std::byte>) {});
    const SequenceDecision decision = info.kind == mold::PacketKind::data
                                          ? tracker.on_data(info.sequence_number, info.message_count)
                                          : tracker.on_heartbeat(info.sequence_number);
    if (dropped_run > 0) {
      expected.emplace_back(run_first, dropped_run);
      ++injected_gaps;
      injected_messages += dropped_run;
    }
    if (decision.gap_count > 0) {
      detected.emplace_back(decision.gap_first, decision.gap_count);
      detected_messages += decision.gap_count;
    }
    previous_dropped = false;
    dropped_run = 0;
    return {};
  };
  ASSERT_TRUE(generate_day(config, sink));
  EXPECT_GT(injected_gaps, 50u);
  EXPECT_EQ(detected, expected);
  EXPECT_EQ(detected_messages, injected_messages);
  EXPECT_EQ(tracker.counters().gaps, injected_gaps);
  EXPECT_EQ(drops.total(), 0u);
}

}  // namespace
}  // namespace aether::feed
