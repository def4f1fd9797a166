#include "aether/mem/memory_region.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <limits>
#include <utility>

#include <linux/memfd.h>  // MFD_HUGE_2MB (glibc's <sys/mman.h> has MFD_HUGETLB only)

#include "aether/core/log.hpp"

namespace aether::mem {
namespace {

// The only hugepage size we ask for: 2 MiB is what x86-64 and arm64 (4 KiB
// granule) provide as PMD-level pages, and what `nr_hugepages` reserves.
constexpr std::size_t kHugepageSize = std::size_t{2} << 20;
constexpr const char* kHugepageSysfs = "/sys/kernel/mm/hugepages/hugepages-2048kB";

// memfd_create(2): "The name [...] is limited to 249 bytes, excluding the
// terminating null byte" (NAME_MAX minus the "memfd:" prefix).
constexpr std::size_t kMaxMemfdNameLength = 249;

// Closes the fd on scope exit unless released: keeps the error paths short.
class FdGuard {
 public:
  explicit FdGuard(int fd) noexcept : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

struct Mapping {
  std::byte* base;
  std::size_t length;
  int fd;
};

// Reads one unsigned number from a sysfs/procfs file; -1 when unreadable.
long long read_number(const std::string& path) {
  std::ifstream file(path);
  long long value = -1;
  if (!(file >> value)) return -1;
  return value;
}

// Touches every page so that the data path never takes the first-touch
// fault. MAP_POPULATE already faults the pages in; touching as well makes a
// failure that MAP_POPULATE ignores (e.g. a hugetlb cgroup limit, which
// shows as SIGBUS) happen here, at start-up, instead of on the first packet.
void prefault(std::byte* base, std::size_t length, std::size_t page_size) noexcept {
  for (std::size_t offset = 0; offset < length; offset += page_size) {
    // volatile: the write must happen although the value is already zero.
    *static_cast<volatile std::byte*>(base + offset) = std::byte{0};
  }
}

// memfd_create + ftruncate + mmap(MAP_SHARED | MAP_POPULATE). Error
// messages name the step and the size; the caller adds the region name.
Result<Mapping> map_memfd(const std::string& name, std::size_t length, bool hugepages) {
  // Sealable: once sized, the region is sealed against resizing, so a
  // process it is shared with (a memif server, issue 13) cannot truncate it
  // and make our accesses fault (SIGBUS).
  const unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING | (hugepages ? (MFD_HUGETLB | MFD_HUGE_2MB) : 0U);
  const char* kind = hugepages ? "2 MiB hugepages" : "normal pages";
  FdGuard fd(::memfd_create(name.c_str(), flags));
  if (fd.get() < 0) return errno_error(fmt::format("memfd_create for {} bytes of {} failed", length, kind));
  if (::ftruncate(fd.get(), static_cast<off_t>(length)) != 0) {
    return errno_error(fmt::format("ftruncate of the memfd to {} bytes of {} failed", length, kind));
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return errno_error(fmt::format("sealing the memfd of {} bytes of {} against resizing failed", length, kind));
  }
  // MAP_SHARED: the memfd pages are what a peer process or the kernel
  // (AF_XDP UMEM) sees, so this mapping must not be a private copy.
  void* address = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
  if (address == MAP_FAILED) return errno_error(fmt::format("mmap of {} bytes of {} failed", length, kind));
  return Mapping{static_cast<std::byte*>(address), length, fd.release()};
}

// Prefixes the region name to a step's error.
Error in_region(const std::string& name, Error error) {
  error.message = fmt::format("memory region '{}': {}", name, error.message);
  return error;
}

// Rounds up to a multiple of the power-of-two `page`; false on overflow.
bool round_up(std::size_t bytes, std::size_t page, std::size_t& rounded) noexcept {
  if (bytes > std::numeric_limits<std::size_t>::max() - (page - 1)) return false;
  rounded = (bytes + page - 1) & ~(page - 1);
  return true;
}

// Warns once per process; later occurrences go to the debug log so that a
// program creating many regions is not flooded with the same advice.
void warn_once(std::atomic<bool>& warned, const std::string& text) {
  // relaxed: only "has anyone warned yet" matters, no data is published.
  if (!warned.exchange(true, std::memory_order_relaxed)) {
    log::warn("{}", text);
  } else {
    log::debug("{}", text);
  }
}

std::atomic<bool> g_fallback_warned{false};
std::atomic<bool> g_mlock_warned{false};

void warn_fallback(const RegionOptions& options, const Error& hugepage_error) {
  const long long total = read_number(fmt::format("{}/nr_hugepages", kHugepageSysfs));
  const long long free = read_number(fmt::format("{}/free_hugepages", kHugepageSysfs));
  const std::size_t needed = (options.required_bytes + kHugepageSize - 1) / kHugepageSize;
  warn_once(g_fallback_warned,
            fmt::format("memory region '{}': cannot use 2 MiB hugepages ({}; {} free of {} reserved in {}). "
                        "Falling back to normal pages, mlocked and prefaulted: this works but costs TLB misses. "
                        "To use hugepages, reserve them as root, e.g. `echo {} > /proc/sys/vm/nr_hugepages` "
                        "(this region needs {} of 2 MiB)",
                        options.name, hugepage_error.describe(), free, total, kHugepageSysfs,
                        (total > 0 ? static_cast<std::size_t>(total) : 0) + needed, needed));
}

// Locks normal pages in RAM so they are never swapped out (hugepages are
// never swapped, so they need no mlock). A failure is a warning, not an
// error: the region still works, only without the guarantee.
void lock_pages(const std::string& name, std::byte* base, std::size_t length) {
  if (::mlock(base, length) == 0) return;
  const int saved_errno = errno;
  rlimit limit{};
  ::getrlimit(RLIMIT_MEMLOCK, &limit);
  warn_once(g_mlock_warned,
            fmt::format("memory region '{}': mlock of {} bytes failed ({}); RLIMIT_MEMLOCK is {} bytes. The pages "
                        "may be swapped out, which would stall the data path. Raise the limit (`ulimit -l`, "
                        "LimitMEMLOCK= in a systemd unit) or grant CAP_IPC_LOCK",
                        name, length, std::system_category().message(saved_errno),
                        limit.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : fmt::format("{}", limit.rlim_cur)));
}

}  // namespace

Result<MemoryRegion> MemoryRegion::create(const RegionOptions& options) {
  if (options.required_bytes == 0) {
    return invalid_argument(fmt::format("memory region '{}': required_bytes is 0", options.name));
  }
  if (options.name.size() > kMaxMemfdNameLength) {
    return invalid_argument(fmt::format("memory region '{}': name is {} bytes, memfd_create allows at most {}",
                                        options.name, options.name.size(), kMaxMemfdNameLength));
  }
  if (options.require_hugepages && !options.use_hugepages) {
    return invalid_argument(
        fmt::format("memory region '{}': require_hugepages and use_hugepages = false contradict", options.name));
  }

  if (options.use_hugepages) {
    std::size_t length = 0;
    if (!round_up(options.required_bytes, kHugepageSize, length)) {
      return invalid_argument(fmt::format("memory region '{}': {} bytes overflow when rounded up to 2 MiB pages",
                                          options.name, options.required_bytes));
    }
    Result<Mapping> huge = map_memfd(options.name, length, /*hugepages=*/true);
    if (huge.ok()) {
      prefault(huge->base, huge->length, kHugepageSize);
      return MemoryRegion(huge->base, huge->length, huge->fd, kHugepageSize, /*uses_hugepages=*/true);
    }
    if (options.require_hugepages || !options.allow_fallback) {
      const long long free = read_number(fmt::format("{}/free_hugepages", kHugepageSysfs));
      Error error = in_region(options.name, std::move(huge).error());
      error.message += fmt::format(" ({} free 2 MiB hugepages; reserve more with `echo N > /proc/sys/vm/nr_hugepages`)",
                                   free);
      return error;
    }
    warn_fallback(options, huge.error());
  }

  const long system_page = ::sysconf(_SC_PAGESIZE);
  const std::size_t page_size = system_page > 0 ? static_cast<std::size_t>(system_page) : 4096;
  std::size_t length = 0;
  if (!round_up(options.required_bytes, page_size, length)) {
    return invalid_argument(fmt::format("memory region '{}': {} bytes overflow when rounded up to {}-byte pages",
                                        options.name, options.required_bytes, page_size));
  }
  Result<Mapping> normal = map_memfd(options.name, length, /*hugepages=*/false);
  if (!normal.ok()) return in_region(options.name, std::move(normal).error());
  lock_pages(options.name, normal->base, normal->length);
  prefault(normal->base, normal->length, page_size);
  return MemoryRegion(normal->base, normal->length, normal->fd, page_size, /*uses_hugepages=*/false);
}

MemoryRegion::~MemoryRegion() { release(); }

MemoryRegion::MemoryRegion(MemoryRegion&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      length_(std::exchange(other.length_, 0)),
      fd_(std::exchange(other.fd_, -1)),
      page_size_(std::exchange(other.page_size_, 0)),
      uses_hugepages_(std::exchange(other.uses_hugepages_, false)) {}

MemoryRegion& MemoryRegion::operator=(MemoryRegion&& other) noexcept {
  if (this != &other) {
    release();
    base_ = std::exchange(other.base_, nullptr);
    length_ = std::exchange(other.length_, 0);
    fd_ = std::exchange(other.fd_, -1);
    page_size_ = std::exchange(other.page_size_, 0);
    uses_hugepages_ = std::exchange(other.uses_hugepages_, false);
  }
  return *this;
}

bool MemoryRegion::contains(const void* address, std::size_t length) const noexcept {
  // Compare as integers: relational operators on pointers into different
  // objects are unspecified in C++.
  const auto start = reinterpret_cast<std::uintptr_t>(base_);
  const auto query = reinterpret_cast<std::uintptr_t>(address);
  if (base_ == nullptr || query < start) return false;
  const std::uintptr_t offset = query - start;
  // Written so that no sum can overflow.
  return length <= length_ && offset <= length_ - length;
}

void MemoryRegion::release() noexcept {
  // munmap also drops the mlock; closing the last fd and mapping frees the
  // pages (a peer that received the fd keeps them alive).
  if (base_ != nullptr) ::munmap(base_, length_);
  if (fd_ >= 0) ::close(fd_);
  base_ = nullptr;
  length_ = 0;
  fd_ = -1;
}

}  // namespace aether::mem
