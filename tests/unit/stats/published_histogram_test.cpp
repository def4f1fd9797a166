// PublishedHistogram: the reader sees nothing before the writer's first
// publish, then copies that only grow; the writer copies only when asked.
// With a real writer and reader thread (run under TSan too: the hand-over
// is the thing checked).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "aether/stats/published_histogram.hpp"

namespace aether {
namespace {

TEST(PublishedHistogram, TheReaderGetsTheCopyOfTheWritersNextPublish) {
  PublishedHistogram histogram;
  histogram.live().record(100);
  EXPECT_EQ(histogram.latest().count(), 0u);  // nothing published yet
  histogram.publish();                        // the first copy is always asked for
  histogram.live().record(200);
  EXPECT_EQ(histogram.latest().count(), 1u);  // the copy made at publish(), not the live one
  EXPECT_EQ(histogram.latest().count(), 1u);  // asked again, not yet published
  histogram.publish();
  const LatencyHistogram& latest = histogram.latest();
  EXPECT_EQ(latest.count(), 2u);
  EXPECT_EQ(latest.max(), 200u);
}

TEST(PublishedHistogram, AWriterAndAReaderThreadHandOverWithoutALock) {
  PublishedHistogram histogram;
  std::atomic<bool> reader_done{false};
  std::uint64_t recorded = 0;  // the writer's; read after join
  std::thread writer([&] {
    // Records 1, 2, 3, ... and publishes after each, until the reader has
    // seen enough (no time bound: the reader's progress ends it).
    while (!reader_done.load(std::memory_order_relaxed)) {
      histogram.live().record(++recorded);
      histogram.publish();
    }
  });
  std::uint64_t last_count = 0;
  std::uint64_t copies_seen = 0;  // reads that found a newer copy
  bool grew_only = true;
  bool whole = true;
  while (copies_seen < 100) {
    const LatencyHistogram& copy = histogram.latest();
    grew_only = grew_only && copy.count() >= last_count;
    // A copy is whole: with 1, 2, 3, ... recorded in order, its count is
    // its max.
    whole = whole && (copy.count() == 0 || copy.max() == copy.count());
    if (copy.count() > last_count) ++copies_seen;
    last_count = copy.count();
  }
  reader_done.store(true, std::memory_order_relaxed);
  writer.join();
  EXPECT_TRUE(grew_only);
  EXPECT_TRUE(whole);
  EXPECT_EQ(histogram.live().count(), recorded);  // the writer is joined: live() may be read
  EXPECT_GE(recorded, last_count);
}

}  // namespace
}  // namespace aether
