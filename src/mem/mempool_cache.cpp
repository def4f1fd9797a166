#include "aether/mem/mempool_cache.hpp"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "aether/mem/mempool.hpp"

namespace aether::mem {

MempoolCache::MempoolCache(Mempool& pool) : MempoolCache(pool, pool.default_cache_size()) {}

MempoolCache::MempoolCache(Mempool& pool, std::size_t size) : pool_(&pool) {
  if (size > kMaxSize) {
    std::fprintf(stderr, "aether: MempoolCache for mempool '%s': size %zu is above the maximum %zu\n",
                 pool.name().c_str(), size, kMaxSize);
    std::abort();
  }
  size_ = static_cast<std::uint32_t>(size);
  flush_threshold_ = size_ + (size_ + 1) / 2;
  indices_ = std::make_unique<std::uint32_t[]>(2 * size);
  // relaxed: a counter read only for diagnostics in ~Mempool.
  pool.live_caches_.fetch_add(1, std::memory_order_relaxed);
}

MempoolCache::~MempoolCache() { release(); }

MempoolCache::MempoolCache(MempoolCache&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      flush_threshold_(std::exchange(other.flush_threshold_, 0)),
      count_(std::exchange(other.count_, 0)),
      indices_(std::move(other.indices_)) {}

MempoolCache& MempoolCache::operator=(MempoolCache&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::exchange(other.pool_, nullptr);
    size_ = std::exchange(other.size_, 0);
    flush_threshold_ = std::exchange(other.flush_threshold_, 0);
    count_ = std::exchange(other.count_, 0);
    indices_ = std::move(other.indices_);
  }
  return *this;
}

void MempoolCache::flush() noexcept {
  if (pool_ != nullptr) pool_->flush_cache_to(*this, 0);
}

void MempoolCache::release() noexcept {
  if (pool_ == nullptr) return;  // moved from
  flush();
  pool_->live_caches_.fetch_sub(1, std::memory_order_relaxed);  // relaxed: diagnostic counter
  pool_ = nullptr;
}

}  // namespace aether::mem
