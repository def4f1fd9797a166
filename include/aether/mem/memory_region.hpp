// MemoryRegion: a move-only RAII owner of one contiguous, locked-in-RAM
// memory region backed by a memfd (STYLE.md convention 6).
//
// Why a memfd and not anonymous memory: the fd is the handle every later
// consumer needs. memif passes it to a peer over a unix socket
// (SCM_RIGHTS), VFIO DMA-maps the mapping, AF_XDP registers it as UMEM.
//
// Preferred backing: 2 MiB hugepages (memfd_create(2) with MFD_HUGETLB |
// MFD_HUGE_2MB). One TLB entry then covers 2 MiB instead of 4 KiB, so a
// pool of a few thousand packet buffers costs a handful of TLB entries, and
// hugepages are never swapped or migrated by the kernel.
//
// Fallback: normal pages (memfd without MFD_HUGETLB), mlock(2)ed and
// prefaulted so that the data path never takes a page fault. The fallback is
// announced once per process with aether::log::warn, with the reason and the
// command that reserves hugepages.
//
// Not done here (yet): NUMA placement (mbind), 1 GiB pages.
#pragma once

#include <cstddef>
#include <string>

#include "aether/core/result.hpp"

namespace aether::mem {

struct RegionOptions {
  // Bytes the caller needs. The region length is this rounded up to the
  // page size actually used (2 MiB with hugepages, usually 4 KiB without).
  std::size_t required_bytes = 0;

  // false: skip the hugepage attempt and use normal pages without warning
  // (unit tests of the fallback path, tiny regions). Contradicts
  // require_hugepages = true, which is then an error.
  bool use_hugepages = true;

  // When the hugepage attempt fails: true falls back to normal pages (with
  // one warning per process), false returns the hugepage error.
  bool allow_fallback = true;

  // true: the region must be hugepage-backed (e.g. a device whose IOMMU
  // mapping assumes 2 MiB pages); if none are available create() returns an
  // error whatever allow_fallback says.
  bool require_hugepages = false;

  // The memfd name, visible as /memfd:<name> in /proc/<pid>/maps; at most
  // 249 bytes (memfd_create(2)).
  std::string name = "aether";
};

class MemoryRegion {
 public:
  // Creates, maps and prefaults the region. Errors name the step that failed
  // (memfd_create, ftruncate, mmap), the region name and the size.
  [[nodiscard]] static Result<MemoryRegion> create(const RegionOptions& options);

  MemoryRegion() noexcept = default;  // empty: base() == nullptr, fd() == -1
  ~MemoryRegion();
  MemoryRegion(MemoryRegion&& other) noexcept;
  MemoryRegion& operator=(MemoryRegion&& other) noexcept;
  MemoryRegion(const MemoryRegion&) = delete;
  MemoryRegion& operator=(const MemoryRegion&) = delete;

  [[nodiscard]] std::byte* base() const noexcept { return base_; }
  // Mapped length: required_bytes rounded up to page_size().
  [[nodiscard]] std::size_t length() const noexcept { return length_; }
  // The memfd (close-on-exec). Owned by the region: dup(2) it to keep it.
  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] std::size_t page_size() const noexcept { return page_size_; }
  [[nodiscard]] bool uses_hugepages() const noexcept { return uses_hugepages_; }
  // True when [address, address + length) lies entirely inside the region.
  [[nodiscard]] bool contains(const void* address, std::size_t length) const noexcept;

 private:
  MemoryRegion(std::byte* base, std::size_t length, int fd, std::size_t page_size, bool uses_hugepages) noexcept
      : base_(base), length_(length), fd_(fd), page_size_(page_size), uses_hugepages_(uses_hugepages) {}
  void release() noexcept;

  std::byte* base_ = nullptr;
  std::size_t length_ = 0;
  int fd_ = -1;
  std::size_t page_size_ = 0;
  bool uses_hugepages_ = false;
};

}  // namespace aether::mem
