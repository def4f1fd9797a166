// Single-thread semantics of SpscRing: construction errors, full/empty,
// FIFO order across the wrap, partial bulk operations, extreme capacities.
#include "aether/ring/spsc_ring.hpp"

#include <array>
#include <cstdint>
#include <numeric>
#include <system_error>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace aether {
namespace {

template <class T>
SpscRing<T> make_ring(std::size_t capacity) {
  auto ring = SpscRing<T>::create(capacity);
  EXPECT_TRUE(ring.ok()) << (ring.ok() ? "" : ring.error().describe());
  return std::move(ring).value();
}

TEST(SpscRingCreate, RejectsZeroAndNonPowerOfTwo) {
  for (std::size_t capacity : {std::size_t{0}, std::size_t{3}, std::size_t{6}, std::size_t{1000}}) {
    auto ring = SpscRing<int>::create(capacity);
    ASSERT_FALSE(ring.ok()) << capacity;
    EXPECT_EQ(ring.error().code, std::errc::invalid_argument);
    EXPECT_NE(ring.error().message.find(std::to_string(capacity)), std::string::npos) << ring.error().message;
  }
}

TEST(SpscRingCreate, RejectsCapacityAboveMaximum) {
  constexpr std::size_t too_big = SpscRing<std::uint64_t>::max_capacity * 2;
  auto ring = SpscRing<std::uint64_t>::create(too_big);
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.error().code, std::errc::invalid_argument);
  EXPECT_NE(ring.error().message.find(std::to_string(too_big)), std::string::npos) << ring.error().message;
}

TEST(SpscRing, StartsEmpty) {
  auto ring = make_ring<int>(8);
  EXPECT_EQ(ring.capacity(), 8u);
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.size_approx(), 0u);
  int value = -1;
  EXPECT_FALSE(ring.try_pop(value));
  EXPECT_EQ(value, -1) << "a failed pop must not touch its output";
}

TEST(SpscRing, FillsToCapacityThenRefuses) {
  auto ring = make_ring<int>(4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(ring.try_push(i));
    EXPECT_EQ(ring.size_approx(), static_cast<std::size_t>(i + 1));
  }
  EXPECT_FALSE(ring.try_push(99));
  EXPECT_EQ(ring.size_approx(), 4u);
  int value = -1;
  ASSERT_TRUE(ring.try_pop(value));
  EXPECT_EQ(value, 0);
  EXPECT_TRUE(ring.try_push(4)) << "one pop frees exactly one slot";
  EXPECT_FALSE(ring.try_push(5));
  for (int expected = 1; expected <= 4; ++expected) {
    ASSERT_TRUE(ring.try_pop(value));
    EXPECT_EQ(value, expected);
  }
  EXPECT_FALSE(ring.try_pop(value));
  EXPECT_TRUE(ring.empty());
}

TEST(SpscRing, KeepsFifoOrderAcrossManyWraps) {
  auto ring = make_ring<std::uint64_t>(8);
  std::uint64_t next_push = 0;
  std::uint64_t next_pop = 0;
  // Varying fill levels make the indices cross the wrap at every offset.
  for (int round = 0; round < 1000; ++round) {
    const int pushes = 1 + round % 8;
    for (int i = 0; i < pushes; ++i) ASSERT_TRUE(ring.try_push(next_push++));
    const int pops = 1 + (round * 5) % pushes;
    for (int i = 0; i < pops; ++i) {
      std::uint64_t value = 0;
      ASSERT_TRUE(ring.try_pop(value));
      ASSERT_EQ(value, next_pop++);
    }
    std::uint64_t value = 0;
    while (ring.try_pop(value)) ASSERT_EQ(value, next_pop++);
  }
  EXPECT_EQ(next_pop, next_push);
}

TEST(SpscRing, CapacityOneAlternates) {
  auto ring = make_ring<int>(1);
  EXPECT_EQ(ring.capacity(), 1u);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(ring.try_push(i));
    ASSERT_FALSE(ring.try_push(i + 1000));
    int value = -1;
    ASSERT_TRUE(ring.try_pop(value));
    ASSERT_EQ(value, i);
    ASSERT_FALSE(ring.try_pop(value));
  }
  const std::array<int, 3> items{1, 2, 3};
  EXPECT_EQ(ring.push_bulk(items), 1u);
  std::array<int, 3> out{};
  EXPECT_EQ(ring.pop_bulk(out), 1u);
  EXPECT_EQ(out[0], 1);
}

TEST(SpscRing, LargeCapacityFillsAndDrains) {
  constexpr std::size_t capacity = std::size_t{1} << 20;
  auto ring = make_ring<std::uint32_t>(capacity);
  std::vector<std::uint32_t> items(capacity);
  std::iota(items.begin(), items.end(), 7u);
  EXPECT_EQ(ring.push_bulk(items), capacity);
  EXPECT_EQ(ring.size_approx(), capacity);
  EXPECT_FALSE(ring.try_push(0));
  std::vector<std::uint32_t> out(capacity + 10);
  EXPECT_EQ(ring.pop_bulk(out), capacity);
  out.resize(capacity);
  EXPECT_EQ(out, items);
  EXPECT_TRUE(ring.empty());
}

TEST(SpscRing, PushBulkTakesWhatFits) {
  auto ring = make_ring<int>(8);
  std::vector<int> items(5);
  std::iota(items.begin(), items.end(), 0);
  EXPECT_EQ(ring.push_bulk(items), 5u);
  std::iota(items.begin(), items.end(), 5);
  EXPECT_EQ(ring.push_bulk(items), 3u) << "only three slots were free";
  EXPECT_EQ(ring.push_bulk(items), 0u);
  EXPECT_EQ(ring.push_bulk(std::span<const int>{}), 0u);
  std::array<int, 8> out{};
  EXPECT_EQ(ring.pop_bulk(out), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], i);
}

TEST(SpscRing, PopBulkReturnsWhatIsThere) {
  auto ring = make_ring<int>(8);
  ASSERT_TRUE(ring.try_push(10));
  ASSERT_TRUE(ring.try_push(11));
  std::array<int, 5> out{-1, -1, -1, -1, -1};
  EXPECT_EQ(ring.pop_bulk(out), 2u);
  EXPECT_EQ(out[0], 10);
  EXPECT_EQ(out[1], 11);
  EXPECT_EQ(out[2], -1) << "slots beyond the count must not be written";
  EXPECT_EQ(ring.pop_bulk(out), 0u);
  EXPECT_EQ(ring.pop_bulk(std::span<int>{}), 0u);
}

TEST(SpscRing, BulkOperationsSplitAtTheWrap) {
  auto ring = make_ring<int>(8);
  // Move both indices to 6 so the next bulk of 5 spans slots 6,7,0,1,2.
  const std::array<int, 6> prefix{};
  ASSERT_EQ(ring.push_bulk(prefix), 6u);
  std::array<int, 6> sink{};
  ASSERT_EQ(ring.pop_bulk(sink), 6u);
  const std::array<int, 5> items{100, 101, 102, 103, 104};
  ASSERT_EQ(ring.push_bulk(items), 5u);
  // Pop single values across the wrap, then the rest in bulk.
  int value = 0;
  ASSERT_TRUE(ring.try_pop(value));
  EXPECT_EQ(value, 100);
  std::array<int, 8> out{};
  ASSERT_EQ(ring.pop_bulk(out), 4u);
  EXPECT_EQ(out[0], 101);
  EXPECT_EQ(out[1], 102);
  EXPECT_EQ(out[2], 103);
  EXPECT_EQ(out[3], 104);
}

TEST(SpscRing, MixesSingleAndBulkOperations) {
  auto ring = make_ring<std::uint64_t>(16);
  std::uint64_t next_push = 0;
  std::uint64_t next_pop = 0;
  std::array<std::uint64_t, 7> batch{};
  for (int round = 0; round < 500; ++round) {
    std::iota(batch.begin(), batch.end(), next_push);
    next_push += ring.push_bulk(std::span<const std::uint64_t>(batch).first(static_cast<std::size_t>(round % 8)));
    if (ring.try_push(next_push)) ++next_push;
    std::array<std::uint64_t, 5> out{};
    const std::size_t popped = ring.pop_bulk(out);
    for (std::size_t i = 0; i < popped; ++i) ASSERT_EQ(out[i], next_pop++);
    std::uint64_t value = 0;
    if (ring.try_pop(value)) {
      ASSERT_EQ(value, next_pop++);
    }
  }
  std::uint64_t value = 0;
  while (ring.try_pop(value)) ASSERT_EQ(value, next_pop++);
  EXPECT_EQ(next_pop, next_push);
}

struct Message {
  std::uint64_t sequence;
  std::array<char, 40> payload;
};

TEST(SpscRing, CopiesWholeStructs) {
  auto ring = make_ring<Message>(2);
  Message in{42, {}};
  in.payload.fill('x');
  ASSERT_TRUE(ring.try_push(in));
  Message out{};
  ASSERT_TRUE(ring.try_pop(out));
  EXPECT_EQ(out.sequence, 42u);
  EXPECT_EQ(out.payload, in.payload);
}

TEST(SpscRing, MoveTransfersContentsAndDisablesSource) {
  auto ring = make_ring<int>(4);
  ASSERT_TRUE(ring.try_push(1));
  ASSERT_TRUE(ring.try_push(2));
  SpscRing<int> moved(std::move(ring));
  EXPECT_EQ(moved.capacity(), 4u);
  EXPECT_EQ(moved.size_approx(), 2u);
  int value = 0;
  ASSERT_TRUE(moved.try_pop(value));
  EXPECT_EQ(value, 1);

  // The moved-from ring is usable but refuses everything.
  EXPECT_EQ(ring.capacity(), 0u);  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_TRUE(ring.empty());
  EXPECT_FALSE(ring.try_push(3));
  EXPECT_FALSE(ring.try_pop(value));
  const std::array<int, 2> items{5, 6};
  EXPECT_EQ(ring.push_bulk(items), 0u);
  std::array<int, 2> out{};
  EXPECT_EQ(ring.pop_bulk(out), 0u);
}

}  // namespace
}  // namespace aether
