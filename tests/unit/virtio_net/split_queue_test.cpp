#include "aether/drivers/virtio_net/split_queue.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace aether::drivers::virtio_net {
namespace {

TEST(SplitQueue, LayoutFollowsTheSpecSizesOnSeparateLines) {
  constexpr auto layout = layout_for(256);
  EXPECT_EQ(layout.descriptors, 0U);
  EXPECT_EQ(layout.available, 4096U);              // 16 * 256
  EXPECT_EQ(layout.used, 4096U + 576U);            // 6 + 2 * 256 = 518 -> 576
  EXPECT_EQ(layout.total, 4672U + 2112U);          // 6 + 8 * 256 = 2054 -> 2112
  EXPECT_EQ(layout.used % 64, 0U);
  static_assert(layout_for(64).total == 1024 + 192 + 576);
}

TEST(SplitQueue, PublishesBuffersAndTakesWhatTheDeviceReturns) {
  constexpr std::uint16_t size = 8;
  std::vector<std::byte> memory(layout_for(size).total);
  SplitQueue queue(memory.data(), 0x10000, size);
  EXPECT_EQ(queue.descriptors_iova(), 0x10000U);
  EXPECT_EQ(queue.available_iova(), 0x10000U + layout_for(size).available);

  queue.add_buffer(3, 0xabc000, 2048, true);
  queue.add_buffer(5, 0xabd000, 60, false);
  std::uint16_t available[4];
  std::memcpy(available, memory.data() + layout_for(size).available, sizeof(available));
  EXPECT_EQ(available[1], 0);  // not published yet
  queue.publish();
  std::memcpy(available, memory.data() + layout_for(size).available, sizeof(available));
  EXPECT_EQ(available[1], 2);
  EXPECT_EQ(available[2], 3);
  EXPECT_EQ(available[3], 5);
  VirtqDesc descriptor{};
  std::memcpy(&descriptor, memory.data() + 3 * sizeof(VirtqDesc), sizeof(descriptor));
  EXPECT_EQ(descriptor.addr, 0xabc000U);
  EXPECT_EQ(descriptor.len, 2048U);
  EXPECT_EQ(descriptor.flags, virtq_desc_f_write);

  EXPECT_EQ(queue.peek_used(), 0U);
  // The device returns descriptor 5 with 60 bytes: element, then index.
  std::byte* used = memory.data() + layout_for(size).used;
  const VirtqUsedElem returned{5, 60};
  std::memcpy(used + 4, &returned, sizeof(returned));
  const std::uint16_t used_index = 1;
  std::memcpy(used + 2, &used_index, sizeof(used_index));
  ASSERT_EQ(queue.peek_used(), 1U);
  const VirtqUsedElem element = queue.next_used();
  EXPECT_EQ(element.id, 5U);
  EXPECT_EQ(element.len, 60U);
  EXPECT_EQ(queue.peek_used(), 0U);
}

TEST(SplitQueue, UsedIndexIsReadOncePerPeek) {
  constexpr std::uint16_t size = 8;
  std::vector<std::byte> memory(layout_for(size).total);
  SplitQueue queue(memory.data(), 0x10000, size);
  for (std::uint16_t slot = 0; slot < 4; ++slot) queue.add_buffer(slot, 0x1000 * (slot + 1), 2048, true);
  queue.publish();
  std::byte* used = memory.data() + layout_for(size).used;
  const auto device_returns = [&](std::uint16_t index, VirtqUsedElem element) {
    std::memcpy(used + 4 + (index & (size - 1)) * sizeof(element), &element, sizeof(element));
    const auto next = static_cast<std::uint16_t>(index + 1);
    std::memcpy(used + 2, &next, sizeof(next));
  };
  device_returns(0, {2, 100});
  device_returns(1, {0, 200});
  ASSERT_EQ(queue.peek_used(), 2U);
  EXPECT_EQ(queue.upcoming_used_id(1), 0U);  // for prefetching
  // The device returns a third meanwhile: this peek does not cover it.
  device_returns(2, {1, 300});
  EXPECT_EQ(queue.next_used().id, 2U);
  EXPECT_EQ(queue.next_used().len, 200U);
  // The next peek reads the index again and finds it.
  VirtqUsedElem third{};
  ASSERT_TRUE(queue.take_used(third));  // peek + next, one element
  EXPECT_EQ(third.len, 300U);
  EXPECT_FALSE(queue.take_used(third));
  EXPECT_EQ(queue.peek_used(), 0U);
  EXPECT_FALSE(queue.has_used());
}

TEST(SplitQueue, UsedIndexBeyondWhatTheDeviceHoldsIsNotFollowed) {
  constexpr std::uint16_t size = 8;
  std::vector<std::byte> memory(layout_for(size).total);
  SplitQueue queue(memory.data(), 0x10000, size);
  queue.add_buffer(0, 0xabc000, 2048, true);
  queue.add_buffer(1, 0xabd000, 2048, true);
  queue.add_buffer(2, 0xabe000, 2048, true);  // added, not published: the device cannot have it
  queue.publish();
  queue.add_buffer(3, 0xabf000, 2048, true);
  EXPECT_EQ(queue.outstanding(), 3U);
  std::byte* used = memory.data() + layout_for(size).used;
  // A device claiming 4 returned buffers (or 65535, a "negative" index)
  // while it holds 3: none of it is read.
  const std::uint16_t bogus_index = 4;
  std::memcpy(used + 2, &bogus_index, sizeof(bogus_index));
  EXPECT_EQ(queue.peek_used(), 0U);
  EXPECT_TRUE(queue.used_index_overrun());
  // Once overrun, the ring stays untrusted even if the index looks sane again.
  const std::uint16_t sane_index = 1;
  std::memcpy(used + 2, &sane_index, sizeof(sane_index));
  EXPECT_EQ(queue.peek_used(), 0U);
}

TEST(SplitQueue, UsedIndexUpToTheOutstandingCountIsFollowedAcrossTheWrap) {
  constexpr std::uint16_t size = 4;
  std::vector<std::byte> memory(layout_for(size).total);
  SplitQueue queue(memory.data(), 0x10000, size);
  std::byte* used = memory.data() + layout_for(size).used;
  // 70000 buffers through a 4-entry ring: the 16-bit indices wrap.
  std::uint16_t device_index = 0;
  for (unsigned round = 0; round < 70000 / size; ++round) {
    for (std::uint16_t slot = 0; slot < size; ++slot) queue.add_buffer(slot, 0x1000 * slot, 64, false);
    queue.publish();
    ASSERT_EQ(queue.outstanding(), size);
    for (std::uint16_t slot = 0; slot < size; ++slot) {
      const VirtqUsedElem returned{slot, 64};
      std::memcpy(used + 4 + (device_index & (size - 1)) * sizeof(returned), &returned, sizeof(returned));
      ++device_index;
    }
    std::memcpy(used + 2, &device_index, sizeof(device_index));
    ASSERT_EQ(queue.peek_used(), size) << round;
    for (std::uint16_t slot = 0; slot < size; ++slot) EXPECT_EQ(queue.next_used().id, slot);
    ASSERT_EQ(queue.peek_used(), 0U);
  }
  EXPECT_FALSE(queue.used_index_overrun());
}

}  // namespace
}  // namespace aether::drivers::virtio_net
