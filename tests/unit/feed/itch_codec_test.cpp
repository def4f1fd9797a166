// ITCH 5.0 codec: every message type decodes to its own struct with the
// spec's length; fields are big-endian at the spec's offsets (checked on
// hand-written bytes); wrong lengths, unknown types and empty blocks are
// counted by reason and skipped.
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aether/feed/itch_decoder.hpp"

namespace aether::feed {
namespace {

// Records what the decoder handed over.
struct RecordingHandler {
  std::vector<char> types;
  std::vector<std::size_t> sizes;
  itch::AddOrder last_add{};
  itch::OrderExecutedWithPrice last_execution{};
  itch::LuldAuctionCollar last_collar{};
  itch::DlcrPriceDiscovery last_dlcr{};

  void on(const itch::AddOrder& message) {
    last_add = message;
    record(message);
  }
  void on(const itch::OrderExecutedWithPrice& message) {
    last_execution = message;
    record(message);
  }
  void on(const itch::LuldAuctionCollar& message) {
    last_collar = message;
    record(message);
  }
  void on(const itch::DlcrPriceDiscovery& message) {
    last_dlcr = message;
    record(message);
  }
  template <class T>
  void on(const T& message) {
    record(message);
  }
  template <class T>
  void record(const T& message) {
    types.push_back(message.header.message_type);
    sizes.push_back(sizeof(T));
  }
};

std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
  std::vector<std::byte> bytes;
  for (int value : values) bytes.push_back(static_cast<std::byte>(value));
  return bytes;
}

template <class T>
std::vector<std::byte> zeroed_message() {
  std::vector<std::byte> bytes(sizeof(T));
  bytes[0] = static_cast<std::byte>(T::type);
  return bytes;
}

TEST(ItchCodec, EveryMessageTypeDecodesToItsOwnStruct) {
  std::size_t types_seen = 0;
  itch::for_each_message_type([&types_seen](auto message) {
    using T = decltype(message);
    RecordingHandler handler;
    DropCounters drops;
    const auto bytes = zeroed_message<T>();
    EXPECT_TRUE(decode_message(bytes, handler, drops)) << T::type;
    ASSERT_EQ(handler.types.size(), 1u) << T::type;
    EXPECT_EQ(handler.types[0], T::type);
    EXPECT_EQ(handler.sizes[0], sizeof(T));
    EXPECT_EQ(drops.total(), 0u);
    EXPECT_STRNE(itch::message_name(T::type), "unknown");
    ++types_seen;
  });
  EXPECT_EQ(types_seen, itch::message_type_count);
}

TEST(ItchCodec, LengthTableMatchesTheSpecification) {
  // ITCH 5.0 section 1 lengths, type byte included.
  const std::vector<std::pair<char, int>> spec = {
      {'S', 12}, {'R', 39}, {'H', 25}, {'Y', 20}, {'L', 26}, {'V', 35}, {'W', 12}, {'K', 28},
      {'J', 35}, {'h', 21}, {'A', 36}, {'F', 40}, {'E', 31}, {'C', 36}, {'X', 23}, {'D', 19},
      {'U', 35}, {'P', 44}, {'Q', 40}, {'B', 19}, {'I', 50}, {'N', 20}, {'O', 48}};
  int known = 0;
  for (int type = 0; type < 256; ++type) known += itch::message_lengths[static_cast<std::size_t>(type)] != 0;
  EXPECT_EQ(known, static_cast<int>(spec.size()));
  for (auto [type, length] : spec) {
    EXPECT_EQ(itch::message_lengths[static_cast<unsigned char>(type)], length) << type;
  }
}

TEST(ItchCodec, AddOrderFieldsAreBigEndianAtSpecOffsets) {
  const auto bytes = bytes_of({'A', 0x00, 0x2A, 0x00, 0x07,               // locate 42, tracking 7
                               0x00, 0x00, 0x1F, 0x3B, 0x6E, 0x8A,         // timestamp
                               0, 0, 0, 0, 0, 0, 0x12, 0x34,               // order reference 0x1234
                               'S', 0x00, 0x00, 0x01, 0x2C,                // sell 300
                               'A', 'A', 'P', 'L', ' ', ' ', ' ', ' ',     // stock
                               0x00, 0x1A, 0xB3, 0xF0});                   // price 175.0000
  RecordingHandler handler;
  DropCounters drops;
  ASSERT_TRUE(decode_message(bytes, handler, drops));
  const itch::AddOrder& add = handler.last_add;
  EXPECT_EQ(add.header.stock_locate.value(), 42u);
  EXPECT_EQ(add.header.tracking_number.value(), 7u);
  EXPECT_EQ(add.header.timestamp.value(), 0x1F3B6E8Au);
  EXPECT_EQ(add.order_reference.value(), 0x1234u);
  EXPECT_EQ(add.side, 'S');
  EXPECT_EQ(add.shares.value(), 300u);
  EXPECT_EQ(add.stock.text(), "AAPL");
  EXPECT_EQ(add.price.value(), 1'750'000u);
}

TEST(ItchCodec, SixByteTimestampReachesItsMaximum) {
  auto bytes = zeroed_message<itch::SystemEvent>();
  for (std::size_t i = 5; i < 11; ++i) bytes[i] = std::byte{0xFF};
  const auto event = itch::load_message<itch::SystemEvent>(bytes.data());
  EXPECT_EQ(event.header.timestamp.value(), (std::uint64_t{1} << 48) - 1);
}

TEST(ItchCodec, NewerMessagesLuldCollarAndDlcrDecode) {
  itch::LuldAuctionCollar collar{};
  collar.header.message_type = 'J';
  collar.stock.set("ZVZZT");
  collar.auction_collar_reference_price.set(100'0000);
  collar.upper_auction_collar_price.set(110'0000);
  collar.lower_auction_collar_price.set(90'0000);
  collar.auction_collar_extension.set(3);
  itch::DlcrPriceDiscovery dlcr{};
  dlcr.header.message_type = 'O';
  dlcr.near_execution_time.set(0x0102030405060708);
  dlcr.upper_price_range_collar.set(0x77359400);
  std::vector<std::byte> bytes(sizeof collar);
  std::memcpy(bytes.data(), &collar, sizeof collar);
  RecordingHandler handler;
  DropCounters drops;
  ASSERT_TRUE(decode_message(bytes, handler, drops));
  EXPECT_EQ(handler.last_collar.stock.text(), "ZVZZT");
  EXPECT_EQ(handler.last_collar.upper_auction_collar_price.value(), 1'100'000u);
  EXPECT_EQ(handler.last_collar.lower_auction_collar_price.value(), 900'000u);
  EXPECT_EQ(handler.last_collar.auction_collar_extension.value(), 3u);
  EXPECT_EQ(static_cast<int>(bytes[31]), 0);  // extension is big-endian: high byte first
  EXPECT_EQ(static_cast<int>(bytes[34]), 3);
  bytes.resize(sizeof dlcr);
  std::memcpy(bytes.data(), &dlcr, sizeof dlcr);
  ASSERT_TRUE(decode_message(bytes, handler, drops));
  EXPECT_EQ(handler.last_dlcr.near_execution_time.value(), 0x0102030405060708u);
  EXPECT_EQ(handler.last_dlcr.upper_price_range_collar.value(), 0x77359400u);
  EXPECT_EQ(static_cast<int>(bytes[32]), 0x01);
}

TEST(ItchCodec, ExecutionWithPriceCarriesPrintableAndPrice) {
  itch::OrderExecutedWithPrice execution{};
  execution.header.message_type = 'C';
  execution.order_reference.set(99);
  execution.executed_shares.set(50);
  execution.match_number.set(123456789);
  execution.printable = 'N';
  execution.execution_price.set(12'3400);
  std::vector<std::byte> bytes(sizeof execution);
  std::memcpy(bytes.data(), &execution, sizeof execution);
  RecordingHandler handler;
  DropCounters drops;
  ASSERT_TRUE(decode_message(bytes, handler, drops));
  EXPECT_EQ(handler.last_execution.order_reference.value(), 99u);
  EXPECT_EQ(handler.last_execution.executed_shares.value(), 50u);
  EXPECT_EQ(handler.last_execution.match_number.value(), 123456789u);
  EXPECT_EQ(handler.last_execution.printable, 'N');
  EXPECT_EQ(handler.last_execution.execution_price.value(), 123400u);
}

TEST(ItchCodec, EveryTypeCutShortOrOverlongIsCountedAndSkipped) {
  itch::for_each_message_type([](auto message) {
    using T = decltype(message);
    RecordingHandler handler;
    DropCounters drops;
    auto bytes = zeroed_message<T>();
    bytes.pop_back();
    EXPECT_FALSE(decode_message(bytes, handler, drops));
    bytes.push_back(std::byte{0});
    bytes.push_back(std::byte{0});
    EXPECT_FALSE(decode_message(bytes, handler, drops));
    std::vector<std::byte> type_only(1, static_cast<std::byte>(T::type));
    EXPECT_FALSE(decode_message(type_only, handler, drops));
    EXPECT_TRUE(handler.types.empty()) << T::type;
    EXPECT_EQ(drops[DropReason::short_message], 2u) << T::type;
    EXPECT_EQ(drops[DropReason::long_message], 1u) << T::type;
  });
}

TEST(ItchCodec, UnknownTypesAndEmptyMessagesAreCountedAndSkipped) {
  RecordingHandler handler;
  DropCounters drops;
  int unknown = 0;
  for (int type = 0; type < 256; ++type) {
    if (itch::message_lengths[static_cast<std::size_t>(type)] != 0) continue;
    std::vector<std::byte> bytes(36, std::byte{0});
    bytes[0] = static_cast<std::byte>(type);
    EXPECT_FALSE(decode_message(bytes, handler, drops));
    ++unknown;
  }
  EXPECT_FALSE(decode_message(std::span<const std::byte>{}, handler, drops));
  EXPECT_TRUE(handler.types.empty());
  EXPECT_EQ(drops[DropReason::unknown_type], static_cast<std::uint64_t>(unknown));
  EXPECT_EQ(drops[DropReason::empty_message], 1u);
  EXPECT_EQ(drops.total(), static_cast<std::uint64_t>(unknown) + 1);
}

}  // namespace
}  // namespace aether::feed
