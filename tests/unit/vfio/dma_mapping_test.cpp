// DmaMapping's teardown contract over an address space that records what
// it is asked and can refuse an unmap (a real VFIO container or iommufd
// refuses one only in error cases this host cannot produce: no IOMMU here;
// the guest tests map and unmap for real).
#include "aether/vfio/dma_mapping.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

namespace aether::vfio {
namespace {

class RecordingAddressSpace final : public IoAddressSpace {
 public:
  Result<void> map_dma(const void* /*address*/, std::size_t length, std::uint64_t iova) override {
    calls.push_back(fmt::format("map {:#x}+{:#x}", iova, length));
    return {};
  }
  int unmap_dma(std::uint64_t iova, std::size_t length) noexcept override {
    calls.push_back(fmt::format("unmap {:#x}+{:#x}", iova, length));
    return refuse_unmap ? EBUSY : 0;
  }
  [[nodiscard]] std::string_view describe() const noexcept override { return "recording address space"; }

  std::vector<std::string> calls;
  bool refuse_unmap = false;
};

mem::MemoryRegion small_region() {
  mem::RegionOptions options;
  options.required_bytes = 4096;
  options.use_hugepages = false;
  options.name = "dma-mapping-test";
  auto region = mem::MemoryRegion::create(options);
  EXPECT_TRUE(region) << region.error().describe();
  return std::move(*region);
}

TEST(DmaMapping, UnmapRemovesTheMappingOnce) {
  RecordingAddressSpace space;
  auto region = small_region();
  auto mapping = DmaMapping::create(space, region, 0x100000);
  ASSERT_TRUE(mapping) << mapping.error().describe();
  EXPECT_TRUE(mapping->mapped());
  EXPECT_TRUE(mapping->unmap());
  EXPECT_FALSE(mapping->mapped());
  EXPECT_TRUE(mapping->unmap());  // no-op now
  *mapping = DmaMapping();        // and the destructor does not unmap again
  EXPECT_EQ(space.calls, (std::vector<std::string>{"map 0x100000+0x1000", "unmap 0x100000+0x1000"}));
}

TEST(DmaMapping, AFailedUnmapIsKeptAndReportedNotForgotten) {
  RecordingAddressSpace space;
  auto region = small_region();
  auto mapping = DmaMapping::create(space, region, 0x100000);
  ASSERT_TRUE(mapping) << mapping.error().describe();
  space.refuse_unmap = true;
  auto failed = mapping->unmap();
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("IOVA 0x100000"), std::string::npos) << failed.error().message;
  EXPECT_NE(failed.error().message.find("recording address space"), std::string::npos);
  EXPECT_EQ(failed.error().code, std::error_code(EBUSY, std::system_category()));
  EXPECT_TRUE(mapping->mapped());  // still owned: the device can still reach it
  // A later attempt (here: the destructor) tries again.
  space.refuse_unmap = false;
  *mapping = DmaMapping();
  EXPECT_EQ(space.calls.size(), 3U);
}

TEST(DmaMapping, TeardownSaysWhetherEveryMappingIsGone) {
  RecordingAddressSpace space;
  auto pool_region = small_region();
  auto ring_region = small_region();
  auto pool = DmaMapping::create(space, pool_region, 0x100000);
  auto rings = DmaMapping::create(space, ring_region, 0x200000);
  ASSERT_TRUE(pool && rings);
  space.refuse_unmap = true;
  // Both are tried, in order, even after the first fails.
  EXPECT_FALSE(unmap_for_teardown({&*pool, &*rings}, "0000:00:03.0"));
  EXPECT_TRUE(pool->mapped());
  EXPECT_TRUE(rings->mapped());
  EXPECT_EQ(space.calls.back(), "unmap 0x200000+0x1000");
  space.refuse_unmap = false;
  EXPECT_TRUE(unmap_for_teardown({&*pool, &*rings}, "0000:00:03.0"));
  EXPECT_FALSE(pool->mapped());
  EXPECT_FALSE(rings->mapped());
}

}  // namespace
}  // namespace aether::vfio
