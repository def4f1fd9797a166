// SpscRing across two threads: strict FIFO order, intact payloads and a
// checksum over millions of items. These are correctness tests (they run
// under TSan in CI), not timings; the spin loops yield so that the test stays
// fair on a machine with fewer free CPUs than threads.
#include "aether/ring/spsc_ring.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

namespace aether {
namespace {

struct Item {
  std::uint64_t sequence;
  std::uint64_t payload;  // a function of sequence, to catch torn or stale slots
};

// SplitMix64 finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom
// number generators", OOPSLA 2014): every bit of the payload depends on every
// bit of the sequence.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Order-sensitive checksum (a rotate-xor-multiply chain), so that two items
// swapped in transit change it even if each is intact.
constexpr std::uint64_t fold(std::uint64_t checksum, const Item& item) noexcept {
  return ((checksum << 5) | (checksum >> 59)) ^ (item.payload * 0x9e3779b97f4a7c15ULL);
}

struct ConsumerReport {
  std::uint64_t received = 0;
  std::uint64_t checksum = 0;
  std::uint64_t first_bad_index = UINT64_MAX;  // UINT64_MAX: none
  Item first_bad_item{};
};

void check(const Item& item, ConsumerReport& report) {
  if (report.first_bad_index == UINT64_MAX &&
      (item.sequence != report.received || item.payload != mix(item.sequence))) {
    report.first_bad_index = report.received;
    report.first_bad_item = item;
  }
  report.checksum = fold(report.checksum, item);
  ++report.received;
}

std::uint64_t expected_checksum(std::uint64_t count) {
  std::uint64_t checksum = 0;
  for (std::uint64_t i = 0; i < count; ++i) checksum = fold(checksum, Item{i, mix(i)});
  return checksum;
}

void expect_intact(const ConsumerReport& report, std::uint64_t count) {
  EXPECT_EQ(report.received, count);
  EXPECT_EQ(report.first_bad_index, UINT64_MAX)
      << "item " << report.first_bad_index << " arrived as sequence " << report.first_bad_item.sequence
      << " payload " << report.first_bad_item.payload;
  EXPECT_EQ(report.checksum, expected_checksum(count));
}

// Bulk transfer of `count` items through a ring of `capacity` slots. Batch
// sizes vary (1..64 on the producer, up to 48 on the consumer) so partial
// pushes and pops, and batches that straddle the wrap, all happen.
void transfer_in_bulk(std::uint64_t count, std::size_t capacity) {
  auto created = SpscRing<Item>::create(capacity);
  ASSERT_TRUE(created.ok()) << created.error().describe();
  SpscRing<Item> ring = std::move(created).value();  // moved before any thread shares it

  std::thread producer([&ring, count] {
    std::array<Item, 64> batch{};
    std::uint64_t next = 0;
    while (next < count) {
      const std::size_t wanted = std::min<std::uint64_t>(1 + next % batch.size(), count - next);
      for (std::size_t i = 0; i < wanted; ++i) batch[i] = Item{next + i, mix(next + i)};
      std::size_t sent = 0;
      while (sent < wanted) {
        const std::size_t taken = ring.push_bulk(std::span<const Item>(batch).subspan(sent, wanted - sent));
        if (taken == 0) std::this_thread::yield();
        sent += taken;
      }
      next += wanted;
    }
  });

  ConsumerReport report;
  std::array<Item, 48> out{};
  while (report.received < count) {
    const std::size_t popped = ring.pop_bulk(out);
    if (popped == 0) std::this_thread::yield();
    for (std::size_t i = 0; i < popped; ++i) check(out[i], report);
  }
  producer.join();

  expect_intact(report, count);
  EXPECT_TRUE(ring.empty());
}

// A ring no larger than one producer batch: it is full most of the time, so
// partial pushes and the producer's re-reads of the consumer index dominate.
TEST(SpscRingThreads, HundredThousandItemsThroughASmallRing) { transfer_in_bulk(100'000, 64); }

TEST(SpscRingThreads, TenMillionItemsInBulkArriveInOrder) { transfer_in_bulk(10'000'000, 1024); }

// The single-item path, through a small ring so it is full and empty often.
TEST(SpscRingThreads, OneMillionSingleItemsArriveInOrder) {
  constexpr std::uint64_t count = 1'000'000;
  auto created = SpscRing<Item>::create(16);
  ASSERT_TRUE(created.ok()) << created.error().describe();
  SpscRing<Item> ring = std::move(created).value();

  std::thread producer([&ring] {
    for (std::uint64_t i = 0; i < count; ++i) {
      const Item item{i, mix(i)};
      while (!ring.try_push(item)) std::this_thread::yield();
    }
  });

  ConsumerReport report;
  Item item{};
  while (report.received < count) {
    if (ring.try_pop(item)) {
      check(item, report);
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();

  expect_intact(report, count);
}

}  // namespace
}  // namespace aether
