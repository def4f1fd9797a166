#include "aether/mem/memory_region.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <utility>

#include <gtest/gtest.h>

namespace aether::mem {
namespace {

constexpr std::size_t kHugepageSize = std::size_t{2} << 20;

// Free 2 MiB hugepages right now; the tests adapt to it, never change it.
long long free_hugepages() {
  std::ifstream file("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
  long long value = 0;
  if (!(file >> value)) return 0;
  return value;
}

std::size_t system_page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// Writes a pattern over the whole region and reads it back.
void expect_usable(const MemoryRegion& region) {
  for (std::size_t offset = 0; offset < region.length(); offset += 512) {
    region.base()[offset] = static_cast<std::byte>(offset / 512);
  }
  for (std::size_t offset = 0; offset < region.length(); offset += 512) {
    ASSERT_EQ(region.base()[offset], static_cast<std::byte>(offset / 512)) << "offset " << offset;
  }
}

TEST(MemoryRegion, DefaultOptionsWorkWithOrWithoutHugepages) {
  RegionOptions options;
  options.required_bytes = 100'000;
  options.name = "region-default";
  Result<MemoryRegion> region = MemoryRegion::create(options);
  ASSERT_TRUE(region.ok()) << region.error().describe();
  EXPECT_NE(region->base(), nullptr);
  EXPECT_GE(region->fd(), 0);
  EXPECT_GE(region->length(), options.required_bytes);
  EXPECT_EQ(region->length() % region->page_size(), 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(region->base()) % region->page_size(), 0u);
  EXPECT_EQ(region->page_size(), region->uses_hugepages() ? kHugepageSize : system_page_size());
  if (free_hugepages() == 0) {
    EXPECT_FALSE(region->uses_hugepages());
  }
  expect_usable(*region);
}

TEST(MemoryRegion, NormalPagesWhenHugepagesNotWanted) {
  RegionOptions options;
  options.required_bytes = 3 * system_page_size() + 1;
  options.use_hugepages = false;
  Result<MemoryRegion> region = MemoryRegion::create(options);
  ASSERT_TRUE(region.ok()) << region.error().describe();
  EXPECT_FALSE(region->uses_hugepages());
  EXPECT_EQ(region->page_size(), system_page_size());
  EXPECT_EQ(region->length(), 4 * system_page_size());  // rounded up to the page size
  expect_usable(*region);
}

TEST(MemoryRegion, HugepagesWhenReserved) {
  if (free_hugepages() < 2) GTEST_SKIP() << "fewer than 2 free 2 MiB hugepages (see /proc/sys/vm/nr_hugepages)";
  RegionOptions options;
  options.required_bytes = kHugepageSize + 1;
  options.require_hugepages = true;
  Result<MemoryRegion> region = MemoryRegion::create(options);
  ASSERT_TRUE(region.ok()) << region.error().describe();
  EXPECT_TRUE(region->uses_hugepages());
  EXPECT_EQ(region->page_size(), kHugepageSize);
  EXPECT_EQ(region->length(), 2 * kHugepageSize);
  expect_usable(*region);
}

TEST(MemoryRegion, RequireHugepagesFailsClearlyWithoutThem) {
  if (free_hugepages() != 0) GTEST_SKIP() << "hugepages are reserved on this machine";
  RegionOptions options;
  options.required_bytes = 4096;
  options.name = "must-be-huge";
  options.require_hugepages = true;
  Result<MemoryRegion> region = MemoryRegion::create(options);
  ASSERT_FALSE(region.ok());
  const std::string message = region.error().describe();
  EXPECT_NE(message.find("must-be-huge"), std::string::npos) << message;
  EXPECT_NE(message.find("2097152 bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("nr_hugepages"), std::string::npos) << message;
}

TEST(MemoryRegion, NoFallbackFailsWithoutHugepages) {
  if (free_hugepages() != 0) GTEST_SKIP() << "hugepages are reserved on this machine";
  RegionOptions options;
  options.required_bytes = 4096;
  options.allow_fallback = false;
  EXPECT_FALSE(MemoryRegion::create(options).ok());
}

TEST(MemoryRegion, RejectsBadOptions) {
  RegionOptions zero;
  EXPECT_FALSE(MemoryRegion::create(zero).ok());

  RegionOptions contradiction;
  contradiction.required_bytes = 4096;
  contradiction.use_hugepages = false;
  contradiction.require_hugepages = true;
  EXPECT_FALSE(MemoryRegion::create(contradiction).ok());

  RegionOptions long_name;
  long_name.required_bytes = 4096;
  long_name.name = std::string(250, 'x');
  Result<MemoryRegion> region = MemoryRegion::create(long_name);
  ASSERT_FALSE(region.ok());
  EXPECT_NE(region.error().message.find("249"), std::string::npos) << region.error().message;

  RegionOptions huge;
  huge.required_bytes = ~std::size_t{0};
  EXPECT_FALSE(MemoryRegion::create(huge).ok());
}

TEST(MemoryRegion, FdSharesTheSameMemory) {
  // What memif relies on: a second mapping of the fd (as a peer would make
  // after receiving it) sees the same bytes.
  RegionOptions options;
  options.required_bytes = 8192;
  Result<MemoryRegion> region = MemoryRegion::create(options);
  ASSERT_TRUE(region.ok()) << region.error().describe();
  struct stat status {};
  ASSERT_EQ(::fstat(region->fd(), &status), 0);
  EXPECT_EQ(static_cast<std::size_t>(status.st_size), region->length());
  EXPECT_NE(::fcntl(region->fd(), F_GETFD) & FD_CLOEXEC, 0);

  void* peer = ::mmap(nullptr, region->length(), PROT_READ | PROT_WRITE, MAP_SHARED, region->fd(), 0);
  ASSERT_NE(peer, MAP_FAILED);
  std::memcpy(region->base() + 100, "aether", 6);
  EXPECT_EQ(std::memcmp(static_cast<char*>(peer) + 100, "aether", 6), 0);
  ::munmap(peer, region->length());
}

TEST(MemoryRegion, MoveTransfersOwnershipAndDestructorCloses) {
  RegionOptions options;
  options.required_bytes = 4096;
  options.use_hugepages = false;
  Result<MemoryRegion> created = MemoryRegion::create(options);
  ASSERT_TRUE(created.ok()) << created.error().describe();
  MemoryRegion first = std::move(created).value();
  const int fd = first.fd();
  std::byte* const base = first.base();

  MemoryRegion second = std::move(first);
  EXPECT_EQ(first.base(), nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(first.fd(), -1);
  EXPECT_EQ(first.length(), 0u);
  EXPECT_EQ(second.base(), base);
  EXPECT_EQ(second.fd(), fd);

  MemoryRegion third;
  third = std::move(second);
  EXPECT_EQ(third.fd(), fd);
  EXPECT_TRUE(fd_is_open(fd));
  third = MemoryRegion();  // releases the region
  EXPECT_FALSE(fd_is_open(fd));
}

TEST(MemoryRegion, ContainsChecksBothEnds) {
  RegionOptions options;
  options.required_bytes = 4096;
  options.use_hugepages = false;
  Result<MemoryRegion> region = MemoryRegion::create(options);
  ASSERT_TRUE(region.ok()) << region.error().describe();
  std::byte* const base = region->base();
  const std::size_t length = region->length();

  EXPECT_TRUE(region->contains(base, length));
  EXPECT_TRUE(region->contains(base + length - 1, 1));
  EXPECT_TRUE(region->contains(base + 10, 0));
  EXPECT_FALSE(region->contains(base + length - 1, 2));
  EXPECT_FALSE(region->contains(base + length, 1));
  const auto before = reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(base) - 1);
  EXPECT_FALSE(region->contains(before, 1));
  EXPECT_FALSE(region->contains(base + 1, ~std::size_t{0}));  // a length that would overflow a sum
  int outside = 0;
  EXPECT_FALSE(region->contains(&outside, sizeof outside));
  EXPECT_FALSE(MemoryRegion().contains(base, 1));
}

}  // namespace
}  // namespace aether::mem
