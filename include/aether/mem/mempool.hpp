// Mempool: fixed-size packet buffers carved from one MemoryRegion.
//
// Buffer i starts at region().base() + i * buffer_stride() and holds the
// 64-byte Packet metadata, the headroom and the data room (see packet.hpp).
// One region means one fd and one base: memif shares it, VFIO maps it once,
// AF_XDP registers it as UMEM, and offset_of()/packet_at_offset() translate
// between Packet pointers and the offsets those interfaces speak.
//
// Free buffers live in a lock-free IndexRing shared by all threads, with an
// optional per-core MempoolCache in front of it. The data path
// (alloc_bulk/free_bulk) is inline here: noexcept, no allocation, no lock,
// no syscall.
//
// Debug builds (NDEBUG not defined) check every free: the pointer must be a
// buffer of this pool and must be allocated; a double free or a foreign
// pointer prints the buffer index and pool name and aborts.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "aether/core/result.hpp"
#include "aether/mem/index_ring.hpp"
#include "aether/mem/memory_region.hpp"
#include "aether/mem/mempool_cache.hpp"
#include "aether/mem/packet.hpp"

namespace aether::mem {

struct MempoolConfig {
  // Number of buffers; 1 to kMaxBufferCount.
  std::uint32_t count = 0;
  // Bytes of packet data per buffer after the headroom; at least 2048, so
  // that a full 1518-byte Ethernet frame (plus VLAN tags) always fits.
  std::size_t data_room = 2048;
  // Bytes reserved in front of the data for prepending headers (DPDK's
  // RTE_PKTMBUF_HEADROOM is also 128).
  std::size_t headroom = 128;
  // Default size of a MempoolCache(pool); at most MempoolCache::kMaxSize.
  std::size_t cache_size = 256;
  // Names the pool in messages and the memfd (/memfd:<name>).
  std::string name = "aether-pool";
  // Round the stride up to a power of two (AF_XDP aligned mode needs a
  // power-of-two chunk size, e.g. 4096). The extra bytes become tailroom.
  bool stride_power_of_two = false;
  // Page options. required_bytes and name are set by the pool.
  RegionOptions region;
};

class Mempool {
 public:
  static constexpr std::size_t kMinDataRoom = 2048;
  // The ring holds 2 x count entries (see the constructor), within its limit.
  static constexpr std::uint32_t kMaxBufferCount = IndexRing::kMaxCapacity / 2;

  // Validates the config, creates the region, writes every buffer's
  // metadata and fills the ring. Errors name the pool and the bad value.
  // The pool is returned by pointer because Packets point to it: it never
  // moves.
  [[nodiscard]] static Result<std::unique_ptr<Mempool>> create(const MempoolConfig& config);

  // Warns if buffers are still allocated. Debug builds abort if a
  // MempoolCache of this pool still exists.
  ~Mempool();
  Mempool(const Mempool&) = delete;
  Mempool& operator=(const Mempool&) = delete;

  // Fills the front of `out` with reset packets (length 0, data_offset =
  // headroom, next = nullptr) and returns how many: fewer than out.size()
  // (possibly 0) when the pool is exhausted. Never blocks. With a cache,
  // requests larger than the cache size bypass it.
  // Under concurrency the count can also fall short while another thread
  // has claimed ring slots but not yet published them: for an instant
  // normally, for a whole timeslice if that thread is preempted meanwhile
  // (workers pinned to isolated cores are not; a cache hides most of it).
  [[nodiscard]] unsigned alloc_bulk(std::span<Packet*> out, MempoolCache* cache = nullptr) noexcept;

  // Returns the packets and every segment chained from them (`next`) to the
  // pool; nullptr entries are skipped. All segments must belong to this
  // pool. Does not fail; it can only
  // wait (spin) if another thread stalled inside a ring operation while the
  // ring went round a whole lap (2 x count buffers pushed).
  void free_bulk(std::span<Packet* const> packets, MempoolCache* cache = nullptr) noexcept;

  // Returns single segments to the pool reading nothing from them (not
  // `next`, not `buffer_index`): for buffers another process can write, a
  // memif server mapping a zero-copy client's pool. The caller knows them
  // from its own records. A pointer that is not a buffer start of this pool
  // is skipped (returns how many were freed). Goes straight to the ring.
  unsigned free_lent(std::span<Packet* const> segments) noexcept;

  // Number of buffers.
  [[nodiscard]] std::size_t capacity() const noexcept { return count_; }
  // Free buffers in the shared ring; excludes those held by MempoolCaches.
  // Approximate while other threads allocate or free.
  [[nodiscard]] std::size_t available() const noexcept { return ring_.size(); }

  [[nodiscard]] const MemoryRegion& region() const noexcept { return region_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  // Bytes from one buffer to the next: a multiple of 64.
  [[nodiscard]] std::size_t buffer_stride() const noexcept { return stride_; }
  // Bytes after the headroom in every buffer: at least the configured
  // data_room, more when the stride was rounded up.
  [[nodiscard]] std::size_t data_room() const noexcept { return buffer_length_ - headroom_; }
  [[nodiscard]] std::size_t headroom() const noexcept { return headroom_; }
  [[nodiscard]] std::size_t default_cache_size() const noexcept { return default_cache_size_; }

  // Offset of a packet's buffer (its metadata) from region().base(): what
  // UMEM descriptors, memif descriptors and DMA addresses are built from.
  // Precondition: `packet` belongs to this pool.
  [[nodiscard]] std::uint64_t offset_of(const Packet* packet) const noexcept {
    return static_cast<std::uint64_t>(reinterpret_cast<const std::byte*>(packet) - base_);
  }

  // The packet whose buffer starts at `offset`, or nullptr when the offset
  // is past the last buffer or not at a buffer start.
  [[nodiscard]] Packet* packet_at_offset(std::uint64_t offset) const noexcept {
    if (offset >= buffers_bytes_) return nullptr;
    std::uint64_t index = 0;
    if (stride_shift_ != 0) {  // power-of-two stride: no division
      if ((offset & (stride_ - 1)) != 0) return nullptr;
      index = offset >> stride_shift_;
    } else {
      if (offset % stride_ != 0) return nullptr;
      index = offset / stride_;
    }
    return packet_at(static_cast<std::uint32_t>(index));
  }

  // The packet of buffer `index`, or nullptr when index >= capacity().
  [[nodiscard]] Packet* packet_at_index(std::uint32_t index) const noexcept {
    return index < count_ ? packet_at(index) : nullptr;
  }

 private:
  friend class MempoolCache;

  // Frees are batched into a stack array of this many indices before going
  // to the ring, so that the no-cache path still makes one CAS per batch.
  static constexpr unsigned kBatch = 64;

  Mempool(const MempoolConfig& config, MemoryRegion region, std::size_t stride, std::uint16_t buffer_length);

  [[nodiscard]] Packet* packet_at(std::uint32_t index) const noexcept {
    return reinterpret_cast<Packet*>(base_ + std::size_t{index} * stride_);
  }

  // Turns free indices into allocated, reset packets: out[i] = indices[i].
  // Base, stride and headroom are copied to locals because the stores into
  // the packets could alias the members and would force reloads.
  void take(const std::uint32_t* indices, Packet** out, std::size_t count) noexcept {
    std::byte* const base = base_;
    const std::size_t stride = stride_;
    const std::uint16_t headroom = headroom_;
    const std::uint16_t buffer_length = buffer_length_;
    for (std::size_t i = 0; i < count; ++i) {
      auto* packet = reinterpret_cast<Packet*>(base + std::size_t{indices[i]} * stride);
#ifndef NDEBUG
      if (packet->debug_state != kPacketStateFree) {
        die("allocating a buffer whose state word says it is not free (memory corrupted)", packet);
      }
      packet->debug_state = kPacketStateAllocated;
#endif
      packet->reset(headroom);
      // Rewritten at every allocation, not trusted from the buffer: a
      // process the pool is shared with (a memif server) can write them.
      packet->pool = this;
      packet->buffer_index = indices[i];
      packet->buffer_length = buffer_length;
      out[i] = packet;
    }
  }

  // Checks (in debug builds) and marks one segment free; returns its index.
  std::uint32_t give_back(Packet* packet) noexcept {
#ifndef NDEBUG
    check_owned(packet);
    if (packet->debug_state != kPacketStateAllocated) {
      die(packet->debug_state == kPacketStateFree ? "double free" : "freeing a buffer whose state word is corrupted",
          packet);
    }
    packet->debug_state = kPacketStateFree;
#endif
    return packet->buffer_index;
  }

  unsigned alloc_direct(std::span<Packet*> out) noexcept;
  void push_all(const std::uint32_t* indices, unsigned count) noexcept;
  void flush_cache_to(MempoolCache& cache, std::uint32_t keep) noexcept;

  // Debug checks; out of line (cold) in mempool.cpp.
  void check_owned(const Packet* packet) const noexcept;
  [[noreturn]] void die(const char* problem, const Packet* packet) const noexcept;

  std::string name_;
  MemoryRegion region_;
  std::byte* base_;             // region_.base(), cached for the data path
  std::size_t stride_;          // bytes per buffer, multiple of 64
  std::uint64_t buffers_bytes_; // count_ * stride_
  std::uint32_t count_;
  std::uint32_t stride_shift_;  // log2(stride_) if a power of two, else 0
  std::uint16_t headroom_;
  std::uint16_t buffer_length_; // stride_ - sizeof(Packet)
  std::size_t default_cache_size_;
  // Caches alive on this pool: a cache must not outlive its pool.
  std::atomic<std::uint32_t> live_caches_{0};
  IndexRing ring_;
};

inline unsigned Mempool::alloc_bulk(std::span<Packet*> out, MempoolCache* cache) noexcept {
  if (cache == nullptr || out.size() > cache->size_) return alloc_direct(out);
#ifndef NDEBUG
  if (cache->pool_ != this) die("alloc_bulk with a MempoolCache of another pool", nullptr);
#endif
  // Locals, written back once: stores into packets could alias the cache.
  std::uint32_t* const indices = cache->indices_.get();
  std::size_t count = cache->count_;
  if (count < out.size()) {
    // Refill so that `size` stay behind after serving this request; the
    // array holds 2 x size, and count < out.size() <= size, so it fits.
    count += ring_.pop_bulk({indices + count, cache->size_ + out.size() - count});
  }
  const std::size_t served = out.size() < count ? out.size() : count;
  // From the top of the stack: the most recently freed buffers are the ones
  // most likely still in this core's caches.
  count -= served;
  take(indices + count, out.data(), served);
  cache->count_ = static_cast<std::uint32_t>(count);
  return static_cast<unsigned>(served);
}

inline void Mempool::free_bulk(std::span<Packet* const> packets, MempoolCache* cache) noexcept {
  if (cache != nullptr && cache->size_ != 0) {
#ifndef NDEBUG
    if (cache->pool_ != this) die("free_bulk with a MempoolCache of another pool", nullptr);
#endif
    std::uint32_t* const indices = cache->indices_.get();
    const std::uint32_t flush_threshold = cache->flush_threshold_;
    std::uint32_t count = cache->count_;  // a local: packet reads could alias it
    for (Packet* first : packets) {
      for (Packet* segment = first; segment != nullptr;) {
        // give_back first: in debug builds it validates the pointer before
        // we dereference it; `next` is read before the index can reach the
        // ring (a flush), after which another thread may reuse the buffer.
        const std::uint32_t index = give_back(segment);
        Packet* const next = segment->next;
        // An index that was overwritten out of range never reaches the
        // ring: no later allocation points outside the pool.
        if (index < count_) [[likely]] indices[count++] = index;
        if (count >= flush_threshold) {
          cache->count_ = count;
          flush_cache_to(*cache, cache->size_);
          count = cache->count_;
        }
        segment = next;
      }
    }
    cache->count_ = count;
    return;
  }
  std::uint32_t batch[kBatch];
  unsigned batched = 0;
  for (Packet* first : packets) {
    for (Packet* segment = first; segment != nullptr;) {
      const std::uint32_t index = give_back(segment);  // validates before the read below
      Packet* const next = segment->next;              // read before the batch reaches the ring
      if (index < count_) [[likely]] batch[batched++] = index;  // never one out of range (see above)
      if (batched == kBatch) {
        push_all(batch, batched);
        batched = 0;
      }
      segment = next;
    }
  }
  push_all(batch, batched);
}

inline unsigned Mempool::free_lent(std::span<Packet* const> segments) noexcept {
  std::uint32_t batch[kBatch];
  unsigned batched = 0;
  unsigned freed = 0;
  const auto start = reinterpret_cast<std::uintptr_t>(base_);
  for (Packet* segment : segments) {
    const std::uintptr_t offset = reinterpret_cast<std::uintptr_t>(segment) - start;  // wraps below base_
    if (segment == nullptr || offset >= buffers_bytes_) continue;
    const std::uint64_t index = stride_shift_ != 0 ? offset >> stride_shift_ : offset / stride_;
    if (index * stride_ != offset) continue;  // not a buffer start
#ifndef NDEBUG
    segment->debug_state = kPacketStateFree;  // written, never trusted
#endif
    batch[batched++] = static_cast<std::uint32_t>(index);
    ++freed;
    if (batched == kBatch) {
      push_all(batch, batched);
      batched = 0;
    }
  }
  push_all(batch, batched);
  return freed;
}

inline unsigned Mempool::alloc_direct(std::span<Packet*> out) noexcept {
  std::uint32_t batch[kBatch];
  std::size_t total = 0;
  while (total < out.size()) {
    const std::size_t wanted = out.size() - total < kBatch ? out.size() - total : kBatch;
    const unsigned got = ring_.pop_bulk({batch, wanted});
    take(batch, out.data() + total, got);
    total += got;
    if (got < wanted) break;  // exhausted (or a producer mid-publish): return what we have
  }
  return static_cast<unsigned>(total);
}

inline void Mempool::push_all(const std::uint32_t* indices, unsigned count) noexcept {
  unsigned pushed = 0;
  while (pushed < count) {
    pushed += ring_.push_bulk({indices + pushed, count - pushed});
    if (pushed < count) {
      // The ring has room for 2 x count_ entries, so a short push means a
      // thread stalled inside a ring operation a whole lap ago; the slot
      // frees as soon as it runs again. Buffers must not be dropped, so wait.
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();  // PAUSE: spin-wait hint (Intel SDM vol. 2B)
#elif defined(__aarch64__)
      asm volatile("yield");
#endif
    }
  }
}

inline void Mempool::flush_cache_to(MempoolCache& cache, std::uint32_t keep) noexcept {
  if (cache.count_ <= keep) return;
  // Push the entries above `keep`: no memmove, and the cache is left at
  // its target size so the next allocations need no refill.
  push_all(cache.indices_.get() + keep, cache.count_ - keep);
  cache.count_ = keep;
}

}  // namespace aether::mem
