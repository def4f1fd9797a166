// HugeZeroedMapping: mmap, align to 2 MiB, advise (see huge_zeroed_array.hpp).
#include "aether/mem/huge_zeroed_array.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace aether::mem {
namespace {

// The PMD-level transparent huge page on x86-64 and arm64 (4 KiB granule).
constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

std::size_t round_up(std::size_t value, std::size_t to) noexcept { return (value + to - 1) / to * to; }

}  // namespace

HugeZeroedMapping::HugeZeroedMapping(std::size_t bytes) : bytes_(round_up(bytes == 0 ? 1 : bytes, huge_page_bytes)) {
  // Map one huge page more than needed and unmap the unaligned head and tail,
  // so the kept range starts on a 2 MiB boundary.
  const std::size_t mapped = bytes_ + huge_page_bytes;
  void* raw = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = round_up(start, huge_page_bytes);
  if (aligned > start) ::munmap(raw, aligned - start);
  const std::uintptr_t tail = aligned + bytes_;
  if (start + mapped > tail) ::munmap(reinterpret_cast<void*>(tail), start + mapped - tail);
  base_ = reinterpret_cast<void*>(aligned);
  // Advice only: refused (THP compiled out) it is the same memory on small pages.
  (void)::madvise(base_, bytes_, MADV_HUGEPAGE);
}

HugeZeroedMapping::~HugeZeroedMapping() {
  if (base_ != nullptr) ::munmap(base_, bytes_);
}

}  // namespace aether::mem
