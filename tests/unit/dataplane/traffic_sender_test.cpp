// TrafficSender does per frame what testpmd's txonly does (headers written,
// length set) and keeps what tx_burst refused, already written, for the
// next burst: equal work in `bench throughput --vs-dpdk`.
#include <gtest/gtest.h>

#include "aether/dataplane/traffic.hpp"
#include "aether/net/frame.hpp"
#include "memory_wire.hpp"

namespace aether::test {
namespace {

std::vector<std::byte> template_frame(std::size_t size) {
  std::vector<std::byte> frame(size, std::byte{0xee});  // payload marker
  for (std::size_t i = 0; i < net::udp_frame_header_size; ++i) frame[i] = static_cast<std::byte>(i + 1);
  return frame;
}

TEST(TrafficSender, RefusedFramesAreHeldAndOfferedFirstWithoutRewriting) {
  auto pool = make_pool(512, "sender");
  ASSERT_NE(pool, nullptr);
  {
    MemoryQueue queue(*pool);
    dataplane::TrafficSender sender(queue, *pool, template_frame(64));
    queue.tx_room = 10;
    EXPECT_TRUE(sender.poll());
    EXPECT_EQ(sender.sent(), 10u);
    EXPECT_EQ(sender.refused(), 22u);
    EXPECT_EQ(sender.written(), 32u);
    queue.tx_room = 0;
    EXPECT_FALSE(sender.poll()) << "nothing taken: no work done";
    EXPECT_EQ(sender.written(), 42u) << "the 22 held frames are not rewritten: only 10 fresh ones top the burst up";
    EXPECT_EQ(sender.refused(), 22u + 32u);
    queue.tx_room = 100;
    EXPECT_TRUE(sender.poll());
    EXPECT_EQ(sender.sent(), 42u);
    EXPECT_EQ(sender.written(), 42u) << "a full burst of held frames: nothing new written";
    ASSERT_EQ(queue.sent.size(), 42u);
    for (const auto& frame : queue.sent) {
      ASSERT_EQ(frame.size(), 64u);
      for (std::size_t i = 0; i < net::udp_frame_header_size; ++i) ASSERT_EQ(frame[i], static_cast<std::byte>(i + 1));
    }
    queue.tx_room = 5;
    (void)sender.poll();  // holds 27
    sender.pause();
    (void)sender.poll();  // returns the held frames
  }
  EXPECT_EQ(pool->available(), 512u) << "every buffer back in the pool";
}

TEST(TrafficSender, WritesOnlyTheHeadersAsTestpmdTxonlyDoes) {
  auto pool = make_pool(64, "headers");
  ASSERT_NE(pool, nullptr);
  MemoryQueue queue(*pool);
  dataplane::TrafficSender sender(queue, *pool, template_frame(128));
  (void)sender.poll();
  ASSERT_FALSE(queue.sent.empty());
  const auto& frame = queue.sent.front();
  ASSERT_EQ(frame.size(), 128u);
  EXPECT_NE(frame[net::udp_frame_header_size], std::byte{0xee}) << "the payload is not copied per frame";
  dataplane::TrafficSender full_copy(queue, *pool, template_frame(128), 128);
  (void)full_copy.poll();
  EXPECT_EQ(queue.sent.back()[127], std::byte{0xee}) << "written_bytes = the frame size copies it all";
}

}  // namespace
}  // namespace aether::test
