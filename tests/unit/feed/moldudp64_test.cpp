// MoldUDP64 framing: builder and parser agree on session, sequence numbers
// and blocks; heartbeat and end of session are told apart; every defect of
// a hostile packet is counted and nothing outside it is read.
#include <array>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aether/feed/moldudp64.hpp"

namespace aether::feed::mold {
namespace {

struct Block {
  std::uint64_t sequence;
  std::vector<std::byte> bytes;
};

PacketInfo parse(std::span<const std::byte> packet, DropCounters& drops, std::vector<Block>& blocks) {
  return parse_packet(packet, drops, [&blocks](std::uint64_t sequence, std::span<const std::byte> bytes) {
    blocks.push_back(Block{sequence, std::vector<std::byte>(bytes.begin(), bytes.end())});
  });
}

std::vector<std::byte> message(std::size_t size, int fill) {
  return std::vector<std::byte>(size, static_cast<std::byte>(fill));
}

TEST(MoldUdp64, BuiltPacketParsesBackWithConsecutiveSequenceNumbers) {
  std::array<std::byte, header_size + default_payload_size> buffer{};
  PacketBuilder builder(buffer);
  builder.begin("SESSION001", 1000);
  ASSERT_TRUE(builder.try_add(message(36, 'A')));
  ASSERT_TRUE(builder.try_add(message(19, 'D')));
  ASSERT_TRUE(builder.try_add(message(0, 0)));
  const auto packet = builder.finish();
  EXPECT_EQ(packet.size(), header_size + 3 * block_length_size + 36 + 19);
  // Header bytes at the spec's offsets: count 3 big-endian at 18.
  EXPECT_EQ(static_cast<int>(packet[18]), 0);
  EXPECT_EQ(static_cast<int>(packet[19]), 3);
  EXPECT_EQ(static_cast<int>(packet[17]), 1000 & 0xFF);

  DropCounters drops;
  std::vector<Block> blocks;
  const PacketInfo info = parse(packet, drops, blocks);
  EXPECT_EQ(info.kind, PacketKind::data);
  EXPECT_EQ(info.session.text(), "SESSION001");
  EXPECT_EQ(info.sequence_number, 1000u);
  EXPECT_EQ(info.message_count, 3u);
  EXPECT_EQ(info.messages_delivered, 3u);
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].sequence, 1000u);
  EXPECT_EQ(blocks[1].sequence, 1001u);
  EXPECT_EQ(blocks[2].sequence, 1002u);
  EXPECT_EQ(blocks[0].bytes, message(36, 'A'));
  EXPECT_EQ(blocks[1].bytes, message(19, 'D'));
  EXPECT_TRUE(blocks[2].bytes.empty());
  EXPECT_EQ(drops.total(), 0u);
}

TEST(MoldUdp64, BuilderRefusesWhatDoesNotFit) {
  std::array<std::byte, header_size + 60> buffer{};
  PacketBuilder builder(buffer);
  builder.begin("S", 1);
  ASSERT_TRUE(builder.try_add(message(36, 1)));
  EXPECT_FALSE(builder.try_add(message(36, 2)));  // 20 + 38 + 38 > 80
  ASSERT_TRUE(builder.try_add(message(20, 3)));   // exactly full
  EXPECT_EQ(builder.size(), buffer.size());
  EXPECT_EQ(builder.message_count(), 2u);
}

TEST(MoldUdp64, HeartbeatAndEndOfSessionCarryTheNextSequenceNumber) {
  std::array<std::byte, header_size> buffer{};
  PacketBuilder builder(buffer);
  DropCounters drops;
  std::vector<Block> blocks;
  PacketInfo info = parse(builder.header_only("SESSION001", 77, heartbeat_count), drops, blocks);
  EXPECT_EQ(info.kind, PacketKind::heartbeat);
  EXPECT_EQ(info.sequence_number, 77u);
  info = parse(builder.header_only("SESSION001", 78, end_of_session_count), drops, blocks);
  EXPECT_EQ(info.kind, PacketKind::end_of_session);
  EXPECT_EQ(info.sequence_number, 78u);
  EXPECT_TRUE(blocks.empty());
  EXPECT_EQ(drops.total(), 0u);
}

TEST(MoldUdp64, ShortPacketIsCounted) {
  DropCounters drops;
  std::vector<Block> blocks;
  const std::vector<std::byte> packet(19, std::byte{0});
  EXPECT_EQ(parse(packet, drops, blocks).kind, PacketKind::invalid);
  EXPECT_EQ(parse(std::span<const std::byte>{}, drops, blocks).kind, PacketKind::invalid);
  EXPECT_EQ(drops[DropReason::short_packet], 2u);
}

TEST(MoldUdp64, TruncatedBlocksStopThePacketAndAreCounted) {
  std::array<std::byte, 256> buffer{};
  PacketBuilder builder(buffer);
  builder.begin("S", 5);
  ASSERT_TRUE(builder.try_add(message(19, 'D')));
  ASSERT_TRUE(builder.try_add(message(36, 'A')));
  const auto whole = builder.finish();
  // Every cut of the packet: blocks before the cut are delivered, the cut one is counted.
  for (std::size_t cut = header_size; cut < whole.size(); ++cut) {
    const std::vector<std::byte> packet(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut));
    DropCounters drops;
    std::vector<Block> blocks;
    const PacketInfo info = parse(packet, drops, blocks);
    EXPECT_EQ(info.kind, PacketKind::data);
    EXPECT_EQ(drops[DropReason::truncated_block], 1u) << cut;
    EXPECT_EQ(blocks.size(), cut >= header_size + 2 + 19 ? 1u : 0u) << cut;
  }
}

TEST(MoldUdp64, TrailingBytesAndBlocksInEndOfSessionAreCounted) {
  std::array<std::byte, 256> buffer{};
  PacketBuilder builder(buffer);
  builder.begin("S", 5);
  ASSERT_TRUE(builder.try_add(message(19, 'D')));
  auto packet_span = builder.finish();
  std::vector<std::byte> packet(packet_span.begin(), packet_span.end());
  packet.push_back(std::byte{0x42});
  DropCounters drops;
  std::vector<Block> blocks;
  EXPECT_EQ(parse(packet, drops, blocks).messages_delivered, 1u);
  EXPECT_EQ(drops[DropReason::trailing_bytes], 1u);

  packet[18] = std::byte{0xFF};
  packet[19] = std::byte{0xFF};
  blocks.clear();
  EXPECT_EQ(parse(packet, drops, blocks).kind, PacketKind::end_of_session);
  EXPECT_TRUE(blocks.empty());
  EXPECT_EQ(drops[DropReason::blocks_in_end_of_session], 1u);
}

}  // namespace
}  // namespace aether::feed::mold
