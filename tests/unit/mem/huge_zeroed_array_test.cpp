#include "aether/mem/huge_zeroed_array.hpp"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace aether::mem {
namespace {

struct Slot {
  std::uint64_t key;
  std::uint32_t value;
};

// The array starts zeroed, is 2 MiB aligned (so its full 2 MiB spans can be
// huge pages) and moves without copying.
TEST(HugeZeroedArray, StartsZeroedAlignedAndMoves) {
  constexpr std::size_t size = (std::size_t{3} << 20) / sizeof(Slot) + 7;  // not a whole number of huge pages
  HugeZeroedArray<Slot> array(size);
  ASSERT_EQ(array.size(), size);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(array.data()) % (std::size_t{2} << 20), 0u);
  for (const Slot& slot : array.span()) ASSERT_EQ(slot.key | slot.value, 0u);
  array[size - 1] = Slot{42, 7};
  Slot* const data = array.data();
  HugeZeroedArray<Slot> moved(std::move(array));
  EXPECT_EQ(moved.data(), data);
  EXPECT_EQ(moved[size - 1].key, 42u);
  HugeZeroedArray<Slot> assigned(1);
  assigned = std::move(moved);
  EXPECT_EQ(assigned.data(), data);
  EXPECT_EQ(assigned[size - 1].value, 7u);
}

// Where THP is "madvise" or "always", the advice is on the mapping: the
// kernel lists it with the "hg" flag in /proc/self/smaps (proc(5)).
TEST(HugeZeroedArray, IsAdvisedForHugePages) {
  std::ifstream mode_file("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(mode_file, mode);
  if (mode.find("[never]") != std::string::npos || mode.empty()) GTEST_SKIP() << "transparent huge pages off: " << mode;
  HugeZeroedArray<Slot> array(std::size_t{4} << 20);
  char start[32];
  std::snprintf(start, sizeof start, "%lx-", static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(array.data())));
  std::ifstream smaps("/proc/self/smaps");
  bool in_mapping = false;
  std::string line;
  while (std::getline(smaps, line)) {
    if (line.find('-') != std::string::npos && line.find(' ') != std::string::npos && line.rfind(start, 0) == 0) in_mapping = true;
    if (in_mapping && line.rfind("VmFlags:", 0) == 0) {
      EXPECT_NE(line.find(" hg"), std::string::npos) << line;
      return;
    }
  }
  FAIL() << "no mapping starting at " << start << " in /proc/self/smaps";
}

}  // namespace
}  // namespace aether::mem
