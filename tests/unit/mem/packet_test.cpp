#include "aether/mem/packet.hpp"

#include <new>

#include <gtest/gtest.h>

namespace aether::mem {
namespace {

constexpr std::uint16_t kHeadroom = 128;
constexpr std::uint16_t kBufferLength = kHeadroom + 2048;

// One buffer as a Mempool lays it out, on the stack: metadata, then data area.
struct TestBuffer {
  alignas(64) std::byte bytes[sizeof(Packet) + kBufferLength];

  Packet* packet() {
    auto* packet = new (bytes) Packet{};
    packet->buffer_length = kBufferLength;
    packet->reset(kHeadroom);
    return packet;
  }
};

TEST(Packet, DataFollowsMetadataAndHeadroom) {
  TestBuffer buffer;
  Packet* packet = buffer.packet();
  EXPECT_EQ(packet->buffer_start(), buffer.bytes + 64);
  EXPECT_EQ(packet->data(), buffer.bytes + 64 + kHeadroom);
  EXPECT_EQ(packet->length(), 0);
  EXPECT_EQ(packet->headroom(), kHeadroom);
  EXPECT_EQ(packet->tailroom(), 2048);
  EXPECT_EQ(packet->next, nullptr);
}

TEST(Packet, AppendAndPrependGrowWithinTheRoom) {
  TestBuffer buffer;
  Packet* packet = buffer.packet();
  std::byte* const payload = packet->append(100);
  ASSERT_EQ(payload, packet->data());
  EXPECT_EQ(packet->length(), 100);
  EXPECT_EQ(packet->packet_length, 100u);

  std::byte* const header = packet->prepend(14);
  ASSERT_NE(header, nullptr);
  EXPECT_EQ(header, payload - 14);
  EXPECT_EQ(packet->data(), header);
  EXPECT_EQ(packet->length(), 114);
  EXPECT_EQ(packet->packet_length, 114u);
  EXPECT_EQ(packet->headroom(), kHeadroom - 14);
  EXPECT_EQ(packet->tailroom(), 2048 - 100);
}

TEST(Packet, OutOfRoomReturnsNullAndChangesNothing) {
  TestBuffer buffer;
  Packet* packet = buffer.packet();
  EXPECT_EQ(packet->prepend(kHeadroom + 1), nullptr);
  EXPECT_EQ(packet->append(2049), nullptr);
  EXPECT_EQ(packet->trim_front(1), nullptr);
  EXPECT_FALSE(packet->trim_back(1));
  EXPECT_FALSE(packet->set_length(2049));
  EXPECT_EQ(packet->length(), 0);
  EXPECT_EQ(packet->headroom(), kHeadroom);

  // Exactly the room is fine.
  EXPECT_NE(packet->prepend(kHeadroom), nullptr);
  EXPECT_NE(packet->append(2048), nullptr);
  EXPECT_EQ(packet->length(), kBufferLength);
  EXPECT_EQ(packet->headroom(), 0);
  EXPECT_EQ(packet->tailroom(), 0);
  EXPECT_EQ(packet->append(1), nullptr);
}

TEST(Packet, TrimAndSetLengthKeepLengthsConsistent) {
  TestBuffer buffer;
  Packet* packet = buffer.packet();
  ASSERT_TRUE(packet->set_length(1500));  // as a driver does after receiving a frame
  EXPECT_EQ(packet->packet_length, 1500u);

  std::byte* const inner = packet->trim_front(14);
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner, packet->buffer_start() + kHeadroom + 14);
  EXPECT_TRUE(packet->trim_back(4));
  EXPECT_EQ(packet->length(), 1482);
  EXPECT_EQ(packet->packet_length, 1482u);
  EXPECT_EQ(packet->headroom(), kHeadroom + 14);

  ASSERT_TRUE(packet->set_length(60));
  EXPECT_EQ(packet->packet_length, 60u);
  EXPECT_FALSE(packet->set_length(static_cast<std::uint16_t>(kBufferLength - kHeadroom - 14 + 1)));
}

TEST(Packet, ResetRestoresTheAllocatedState) {
  TestBuffer buffer;
  Packet* packet = buffer.packet();
  Packet other{};
  packet->buffer_index = 7;
  packet->next = &other;
  packet->flags = 3;
  packet->port = 1;
  packet->queue = 2;
  packet->timestamp = 99;
  ASSERT_NE(packet->append(10), nullptr);
  packet->reset(64);
  EXPECT_EQ(packet->next, nullptr);
  EXPECT_EQ(packet->flags, 0u);
  EXPECT_EQ(packet->port, 0);
  EXPECT_EQ(packet->queue, 0);
  EXPECT_EQ(packet->timestamp, 0u);
  EXPECT_EQ(packet->length(), 0);
  EXPECT_EQ(packet->packet_length, 0u);
  EXPECT_EQ(packet->headroom(), 64);
  EXPECT_EQ(packet->buffer_index, 7u);  // identity survives a reset
  EXPECT_EQ(packet->buffer_length, kBufferLength);
}

}  // namespace
}  // namespace aether::mem
