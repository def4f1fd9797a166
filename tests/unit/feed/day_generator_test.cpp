// The generated day: the same seed gives the same bytes; its packets decode
// cleanly with consecutive sequence numbers; its mix, structure and bursts
// are those of a real day within bounds.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/feed/day_generator.hpp"
#include "aether/feed/itch_decoder.hpp"

namespace aether::feed {
namespace {

using ::testing::HasSubstr;

DayConfig small_day(std::uint64_t seed) {
  DayConfig config;
  config.seed = seed;
  config.symbols = 300;
  config.messages = 300'000;
  return config;
}

std::vector<std::vector<std::byte>> packets_of(const DayConfig& config, DayStats* stats = nullptr) {
  std::vector<std::vector<std::byte>> packets;
  const PacketSink sink = [&packets](std::span<const std::byte> packet, std::uint64_t) -> Result<void> {
    packets.emplace_back(packet.begin(), packet.end());
    return {};
  };
  auto result = generate_day(config, sink);
  EXPECT_TRUE(result) << result.error().describe();
  if (result && stats != nullptr) *stats = *result;
  return packets;
}

TEST(DayGenerator, SameSeedSameBytesOtherSeedOtherBytes) {
  const auto first = packets_of(small_day(7));
  const auto second = packets_of(small_day(7));
  const auto other = packets_of(small_day(8));
  ASSERT_FALSE(first.empty());
  EXPECT_TRUE(first == second);
  EXPECT_FALSE(first == other);
}

// Everything the test checks about the decoded day.
struct DayDigest {
  std::map<char, std::uint64_t> by_type;
  std::vector<char> system_events;
  std::uint64_t first_add_index = 0;
  std::uint64_t directory_entries_before_first_add = 0;
  std::uint64_t messages = 0;
  std::uint64_t last_timestamp = 0;
  std::uint64_t out_of_order_timestamps = 0;
  std::uint64_t opening_burst = 0;  // 09:30-09:45
  std::uint64_t midday = 0;         // 12:00-13:00

  template <class T>
  void on(const T& message) {
    ++messages;
    ++by_type[T::type];
    const std::uint64_t time = message.header.timestamp.value();
    if (time < last_timestamp) ++out_of_order_timestamps;
    last_timestamp = time;
    constexpr std::uint64_t minute = 60'000'000'000;
    if (time >= 570 * minute && time < 585 * minute) ++opening_burst;
    if (time >= 720 * minute && time < 780 * minute) ++midday;
    if constexpr (std::is_same_v<T, itch::SystemEvent>) system_events.push_back(message.event_code);
    if constexpr (std::is_same_v<T, itch::StockDirectory>) {
      if (first_add_index == 0) ++directory_entries_before_first_add;
    }
    if constexpr (std::is_same_v<T, itch::AddOrder>) {
      if (first_add_index == 0) first_add_index = messages;
    }
  }
};

TEST(DayGenerator, DecodesCleanlyWithARealDaysShapeAndMix) {
  const DayConfig config = small_day(11);
  DayStats stats;
  const auto packets = packets_of(config, &stats);
  DayDigest digest;
  DropCounters drops;
  std::uint64_t next_sequence = 1;
  std::uint64_t sequence_errors = 0;
  std::uint64_t heartbeats = 0;
  mold::PacketKind last_kind = mold::PacketKind::invalid;
  for (const auto& packet : packets) {
    const auto info = mold::parse_packet(packet, drops, [&](std::uint64_t sequence, std::span<const std::byte> bytes) {
      if (sequence != next_sequence++) ++sequence_errors;
      EXPECT_TRUE(decode_message(bytes, digest, drops));
    });
    EXPECT_EQ(info.session.text(), config.session);
    if (info.kind != mold::PacketKind::data && info.sequence_number != next_sequence) ++sequence_errors;
    heartbeats += info.kind == mold::PacketKind::heartbeat;
    EXPECT_LE(packet.size(), mold::header_size + config.payload_size);
    last_kind = info.kind;
  }
  EXPECT_EQ(drops.total(), 0u);
  EXPECT_EQ(sequence_errors, 0u);
  EXPECT_EQ(last_kind, mold::PacketKind::end_of_session);
  EXPECT_EQ(digest.messages, config.messages);
  EXPECT_EQ(stats.messages, config.messages);
  EXPECT_EQ(stats.heartbeats, heartbeats);
  EXPECT_EQ(digest.out_of_order_timestamps, 0u);

  // Structure: system events in their order, the whole directory before the first add.
  EXPECT_EQ(std::string(digest.system_events.begin(), digest.system_events.end()), "OSQMEC");
  EXPECT_EQ(digest.directory_entries_before_first_add, config.symbols);
  EXPECT_EQ(digest.by_type['H'], config.symbols);
  EXPECT_EQ(digest.by_type['Q'], 2u * config.symbols);  // opening and closing cross

  // Mix (shared specs section 5: A 43.3%, D 41.9%, U 8.7%, E 2.5%, ...): add ≈ delete ≫ replace > execute.
  const auto share = [&digest](char type) {
    return static_cast<double>(digest.by_type[type]) / static_cast<double>(digest.messages);
  };
  EXPECT_GT(share('A') + share('F'), 0.40);
  EXPECT_LT(share('A') + share('F'), 0.48);
  EXPECT_GT(share('D'), 0.37);
  EXPECT_LT(share('D'), 0.45);
  EXPECT_GT(share('U'), 0.06);
  EXPECT_LT(share('U'), 0.11);
  EXPECT_GT(share('E'), 0.015);
  EXPECT_LT(share('E'), 0.035);
  EXPECT_GT(share('D'), 4 * share('U'));
  EXPECT_GT(share('U'), 2 * share('E'));
  for (char type : {'X', 'P', 'I', 'F', 'C', 'L', 'V', 'J', 'B'}) EXPECT_GT(digest.by_type[type], 0u) << type;

  // Bursts: the first 15 minutes run well above the midday rate (per minute).
  EXPECT_GT(static_cast<double>(digest.opening_burst) / 15, 2.0 * static_cast<double>(digest.midday) / 60);
}

TEST(DayGenerator, RefusesConfigsItCannotHonour) {
  const PacketSink sink = [](std::span<const std::byte>, std::uint64_t) -> Result<void> { return {}; };
  DayConfig config = small_day(1);
  config.symbols = 0;
  auto result = generate_day(config, sink);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("--symbols 0"));
  config = small_day(1);
  config.messages = 100;
  result = generate_day(config, sink);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("need at least"));
  config = small_day(1);
  config.session = "ELEVENCHARS";
  result = generate_day(config, sink);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("at most 10"));
}

TEST(DayGenerator, SinkErrorsStopTheDay) {
  int calls = 0;
  const PacketSink sink = [&calls](std::span<const std::byte>, std::uint64_t) -> Result<void> {
    if (++calls == 3) return invalid_argument("disk full");
    return {};
  };
  auto result = generate_day(small_day(1), sink);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "disk full");
  EXPECT_EQ(calls, 3);
}

// The ITCH binary file is every data packet's message blocks (2-byte
// big-endian length, message) back to back, in order, nothing else.
TEST(DayGenerator, ItchFileHoldsEveryMessageBlockInOrder) {
  DayStats stats;
  const auto packets = packets_of(small_day(3), &stats);
  std::vector<std::byte> expected;
  DropCounters drops;
  for (const auto& packet : packets) {
    (void)mold::parse_packet(packet, drops, [&expected](std::uint64_t, std::span<const std::byte> message) {
      expected.push_back(static_cast<std::byte>(message.size() >> 8));
      expected.push_back(static_cast<std::byte>(message.size() & 0xFF));
      expected.insert(expected.end(), message.begin(), message.end());
    });
  }
  const std::string path = ::testing::TempDir() + "day_generator_test.itch";
  auto written = write_day_itch_file(small_day(3), path);
  ASSERT_TRUE(written) << written.error().describe();
  EXPECT_EQ(written->messages, stats.messages);
  std::ifstream file(path, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  std::remove(path.c_str());
  ASSERT_EQ(bytes.size(), expected.size());
  EXPECT_EQ(std::memcmp(bytes.data(), expected.data(), bytes.size()), 0);
  // Every block decodes: the file holds the day's messages, each once.
  std::uint64_t decoded = 0;
  for (std::size_t offset = 0; offset + 2 <= expected.size();) {
    const std::size_t length = (std::to_integer<std::size_t>(expected[offset]) << 8) | std::to_integer<std::size_t>(expected[offset + 1]);
    DayDigest digest;
    decode_message(std::span<const std::byte>(expected).subspan(offset + 2, length), digest, drops);
    decoded += digest.messages;
    offset += 2 + length;
  }
  EXPECT_EQ(decoded, stats.messages);
  EXPECT_EQ(drops.total(), 0u);

  auto refused = write_day_itch_file(small_day(3), "/nonexistent-directory/day.itch");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("/nonexistent-directory/day.itch"));
}

TEST(DayGenerator, SymbolNamesAreUnique) {
  EXPECT_EQ(symbol_name(0), "A");
  EXPECT_EQ(symbol_name(25), "Z");
  EXPECT_EQ(symbol_name(26), "AA");
  EXPECT_EQ(symbol_name(65534).size(), 4u);
}

}  // namespace
}  // namespace aether::feed
