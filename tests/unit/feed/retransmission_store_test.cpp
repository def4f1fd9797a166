// Re-requests: a gap found by SequenceTracker, asked for with a 20-byte
// request, is answered by the store with exactly the missing messages (in as
// many requests as the payload needs); requests it must not answer get
// nothing.
#include <vector>

#include <gtest/gtest.h>

#include "aether/feed/retransmission_store.hpp"
#include "aether/feed/sequence_tracker.hpp"

namespace aether::feed {
namespace {

std::vector<std::byte> message_numbered(std::uint64_t sequence) {
  // 19 bytes, like an Order Delete, carrying its own sequence number.
  std::vector<std::byte> bytes(19, std::byte{'D'});
  for (int i = 0; i < 8; ++i) bytes[11 + static_cast<std::size_t>(i)] = static_cast<std::byte>(sequence >> (56 - 8 * i));
  return bytes;
}

std::uint64_t number_in(std::span<const std::byte> bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 11; i < 19; ++i) value = (value << 8) | static_cast<std::uint8_t>(bytes[i]);
  return value;
}

TEST(RetransmissionStore, RecoversEveryMessageOfAGap) {
  RetransmissionStore store("AETHER0001");
  for (std::uint64_t sequence = 1; sequence <= 1000; ++sequence) store.append(message_numbered(sequence));
  SequenceTracker tracker;
  (void)tracker.on_data(1, 100);
  const SequenceDecision gap = tracker.on_data(401, 10);  // 101..400 lost
  ASSERT_EQ(gap.gap_count, 300u);

  std::vector<std::byte> request_buffer(mold::header_size);
  std::vector<std::byte> answer_buffer(mold::header_size + mold::default_payload_size);
  mold::PacketBuilder requests(request_buffer);
  std::uint64_t next_wanted = gap.gap_first;
  const std::uint64_t end = gap.gap_first + gap.gap_count;
  int round_trips = 0;
  DropCounters drops;
  while (next_wanted < end && round_trips < 100) {
    ++round_trips;
    const auto request = requests.header_only("AETHER0001", next_wanted, static_cast<std::uint16_t>(end - next_wanted));
    const auto answer = store.answer(request, answer_buffer);
    ASSERT_FALSE(answer.empty());
    const auto info = mold::parse_packet(answer, drops, [&](std::uint64_t sequence, std::span<const std::byte> bytes) {
      EXPECT_EQ(sequence, next_wanted);
      EXPECT_EQ(number_in(bytes), sequence);
      ++next_wanted;
    });
    EXPECT_EQ(info.sequence_number + info.messages_delivered, next_wanted);
    EXPECT_LE(answer.size(), answer_buffer.size());
  }
  EXPECT_EQ(next_wanted, end);
  EXPECT_EQ(round_trips, 5);  // 300 messages of 21 bytes with their length, 66 per 1,400-byte payload
  EXPECT_EQ(drops.total(), 0u);
}

TEST(RetransmissionStore, AnswersOnlyWhatItMay) {
  RetransmissionStore store("AETHER0001");
  for (std::uint64_t sequence = 1; sequence <= 10; ++sequence) store.append(message_numbered(sequence));
  std::vector<std::byte> request_buffer(mold::header_size + 1);
  std::vector<std::byte> answer_buffer(mold::header_size + mold::default_payload_size);
  mold::PacketBuilder requests(request_buffer);
  EXPECT_TRUE(store.answer(requests.header_only("OTHER00001", 1, 5), answer_buffer).empty());
  EXPECT_TRUE(store.answer(requests.header_only("AETHER0001", 0, 5), answer_buffer).empty());
  EXPECT_TRUE(store.answer(requests.header_only("AETHER0001", 11, 5), answer_buffer).empty());  // not sent yet
  EXPECT_TRUE(store.answer(requests.header_only("AETHER0001", 3, 0), answer_buffer).empty());
  EXPECT_TRUE(store.answer(std::span<const std::byte>(request_buffer).first(19), answer_buffer).empty());
  EXPECT_TRUE(store.answer(request_buffer, answer_buffer).empty());  // 21 bytes: not a request
  // Asking past the end gets what exists.
  DropCounters drops;
  const auto answer = store.answer(requests.header_only("AETHER0001", 9, 50), answer_buffer);
  const auto info = mold::parse_packet(answer, drops, [](std::uint64_t, std::span<const std::byte>) {});
  EXPECT_EQ(info.sequence_number, 9u);
  EXPECT_EQ(info.messages_delivered, 2u);
  // A buffer too small for even one message gets nothing rather than an empty data packet.
  std::vector<std::byte> tiny(mold::header_size + 10);
  EXPECT_TRUE(store.answer(requests.header_only("AETHER0001", 1, 1), tiny).empty());
}

}  // namespace
}  // namespace aether::feed
