// Per-worker hot state never shares a cache line with another worker's: a
// poller, a worker's loop counters and a queue each start on a line of
// their own and fill whole lines (issue 12, item 1: pollers alignas(64)).
// The throughput bench builds its sink and sender side by side on one stack
// and runs them on two CPUs: the case checked here.
#include <cstdint>

#include <gtest/gtest.h>

#include "aether/dataplane/echo.hpp"
#include "aether/dataplane/poller.hpp"
#include "aether/dataplane/traffic.hpp"
#include "aether/runtime/pollers.hpp"
#include "memory_wire.hpp"

namespace aether::test {
namespace {

static_assert(alignof(dataplane::TrafficSender) == cache_line_size && sizeof(dataplane::TrafficSender) % cache_line_size == 0);
static_assert(alignof(dataplane::TrafficSink) == cache_line_size && sizeof(dataplane::TrafficSink) % cache_line_size == 0);
static_assert(alignof(dataplane::EchoResponder) == cache_line_size);
static_assert(alignof(runtime::QueueToRing) == cache_line_size && alignof(runtime::RingToQueue) == cache_line_size);
static_assert(alignof(net::Queue) == cache_line_size && sizeof(MemoryQueue) % cache_line_size == 0);
static_assert(alignof(dataplane::Worker) == cache_line_size);

// The cache lines [first, last] an object covers.
struct Lines {
  std::uintptr_t first, last;
};
template <class T>
Lines lines_of(const T& object) {
  const auto begin = reinterpret_cast<std::uintptr_t>(&object);
  return {begin / cache_line_size, (begin + sizeof(T) - 1) / cache_line_size};
}
bool share_a_line(Lines a, Lines b) { return a.first <= b.last && b.first <= a.last; }

TEST(HotLayout, ASinkAndASenderSideBySideShareNoCacheLine) {
  auto pool = make_pool(256, "layout");
  ASSERT_NE(pool, nullptr);
  MemoryQueue receive_queue(*pool);
  MemoryQueue send_queue(*pool);
  dataplane::TrafficSink sink(receive_queue, *pool);
  dataplane::TrafficSender sender(send_queue, *pool, std::vector<std::byte>(64));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&sink) % cache_line_size, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&sender) % cache_line_size, 0u);
  EXPECT_FALSE(share_a_line(lines_of(sink), lines_of(sender)));
  EXPECT_FALSE(share_a_line(lines_of(receive_queue), lines_of(send_queue)));
  EXPECT_FALSE(share_a_line(lines_of(sink), lines_of(send_queue)));
}

TEST(HotLayout, TwoWorkersOnTheHeapShareNoCacheLine) {
  auto pool = make_pool(64, "workers");
  ASSERT_NE(pool, nullptr);
  MemoryQueue queue_a(*pool), queue_b(*pool);
  dataplane::TrafficSink sink_a(queue_a, *pool), sink_b(queue_b, *pool);
  auto a = dataplane::Worker::start({0, std::nullopt, "layout-a"}, {&sink_a});
  ASSERT_TRUE(a) << a.error().describe();
  auto b = dataplane::Worker::start({0, std::nullopt, "layout-b"}, {&sink_b});
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&(*a)->counters()) % cache_line_size, 0u);
  EXPECT_FALSE(share_a_line(lines_of(**a), lines_of(**b)));
  (void)(*a)->join();
  (void)(*b)->join();
}

}  // namespace
}  // namespace aether::test
