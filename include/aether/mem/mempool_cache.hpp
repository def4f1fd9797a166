// MempoolCache: a per-core stack of free buffer indices in front of a
// Mempool's shared IndexRing (the DPDK per-lcore mempool cache idea).
//
// Owned explicitly by the worker that uses it (no thread_local): construct
// one per worker thread after pinning, pass it to every alloc_bulk and
// free_bulk of that thread, destroy it before the pool. Not thread-safe:
// one thread at a time.
//
// Why: the shared ring costs a CAS on a line every core writes. The cache
// serves most allocations and frees from memory only this core touches, and
// goes to the ring in bulk: a refill pulls enough to serve the request and
// leave `size` behind, a flush triggered at 1.5 x size pushes back down to
// `size` (DPDK's RTE_MEMPOOL_CACHE_FLUSHTHRESH_MULTIPLIER is the same 1.5).
// Buffers sitting in a cache are not counted by Mempool::available().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace aether::mem {

class Mempool;

class MempoolCache {
 public:
  // The largest cache size: DPDK's RTE_MEMPOOL_CACHE_MAX_SIZE. Beyond this
  // a cache hoards buffers other cores starve for, for no measurable gain.
  static constexpr std::size_t kMaxSize = 512;

  // A cache of the pool's configured cache_size.
  explicit MempoolCache(Mempool& pool);
  // A cache that aims to hold `size` buffers. size 0 makes a pass-through
  // cache (every call goes to the ring). Precondition: size <= kMaxSize
  // (violations abort with a message: it is a programming error).
  MempoolCache(Mempool& pool, std::size_t size);
  // Returns every cached buffer to the pool.
  ~MempoolCache();

  MempoolCache(MempoolCache&& other) noexcept;
  MempoolCache& operator=(MempoolCache&& other) noexcept;
  MempoolCache(const MempoolCache&) = delete;
  MempoolCache& operator=(const MempoolCache&) = delete;

  // Returns every cached buffer to the pool's ring now.
  void flush() noexcept;

  [[nodiscard]] Mempool* pool() const noexcept { return pool_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  // Free buffers held right now.
  [[nodiscard]] std::size_t count() const noexcept { return count_; }

 private:
  friend class Mempool;

  void release() noexcept;

  Mempool* pool_ = nullptr;
  std::uint32_t size_ = 0;             // target fill after a refill or flush
  std::uint32_t flush_threshold_ = 0;  // size + size / 2 (rounded up)
  std::uint32_t count_ = 0;            // entries used in indices_
  // Capacity 2 x size: a refill for a request of n <= size fills to size + n.
  std::unique_ptr<std::uint32_t[]> indices_;
};

}  // namespace aether::mem
