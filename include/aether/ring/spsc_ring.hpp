// SpscRing<T>: a bounded single-producer single-consumer ring of trivially
// copyable values, the primitive every other Aether data path is compared
// with (see ring/round_trip.hpp).
//
// Design (ideas from rigtorp/SPSCQueue and libxdp's xsk.h rings; no code taken):
//  - Two free-running 64-bit indices: `head` (next slot the producer writes)
//    and `tail` (next slot the consumer reads). They are never wrapped; the
//    slot is `index & mask`, the fill level is `head - tail`, so all
//    `capacity` slots are usable (capacity 1 works) and a 64-bit counter
//    cannot overflow in the lifetime of a process (2^64 items at 1e9/s is
//    584 years; unsigned subtraction would stay correct even then).
//  - Each index lives on its own cache line together with the owning side's
//    cached copy of the peer index. A side re-reads the peer's index only
//    when its cached copy says "full" (producer) or "empty" (consumer), so in
//    steady state each index line moves between cores once per batch, not
//    once per item.
//  - Only the owning side stores to an index. Each side publishes with a
//    release store and reads the peer's index with an acquire load; every
//    pairing is commented at its load.
//
// Threading contract: exactly one thread calls the producer functions
// (try_push, push_bulk) and exactly one thread calls the consumer functions
// (try_pop, pop_bulk) at a time; size_approx(), empty() and capacity() may be
// called from either. Every data-path function is noexcept, allocates
// nothing, takes no lock and makes no syscall.
//
// Construction (control path): `SpscRing<T>::create(capacity)` validates the
// capacity and returns Result<SpscRing<T>>; it is the only way to build one.
// A ring may be moved only while no other thread uses it (e.g. right after
// create); a moved-from ring has capacity 0 and refuses every push and pop.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <span>
#include <type_traits>

#include <fmt/format.h>

#include "aether/core/cache_line.hpp"
#include "aether/core/result.hpp"

namespace aether {

template <class T>
class SpscRing {
  // Values are moved in and out with memcpy: no constructor or destructor
  // ever runs on the data path, and a slot may be overwritten at any time.
  static_assert(std::is_trivially_copyable_v<T>, "SpscRing<T> requires a trivially copyable T");
  static_assert(alignof(T) <= cache_line_size, "SpscRing<T> slots are at most cache-line aligned");

 public:
  using value_type = T;

  // Largest accepted capacity: keeps `head - tail` unambiguous (< 2^63) and
  // the slot array's byte size representable.
  static constexpr std::size_t max_capacity =
      std::bit_floor(std::min<std::size_t>(std::size_t{1} << 62, std::numeric_limits<std::size_t>::max() / sizeof(T) / 2));

  // Allocates a ring of `capacity` slots (control path).
  // Errors: capacity 0, not a power of two, or above max_capacity
  // (std::errc::invalid_argument, message names the value); allocation
  // failure (std::errc::not_enough_memory).
  [[nodiscard]] static Result<SpscRing> create(std::size_t capacity) {
    if (capacity == 0 || !std::has_single_bit(capacity)) {
      return invalid_argument(fmt::format("SpscRing capacity {} is not a power of two >= 1", capacity));
    }
    if (capacity > max_capacity) {
      return invalid_argument(
          fmt::format("SpscRing capacity {} exceeds the maximum {} for {}-byte slots", capacity, max_capacity, sizeof(T)));
    }
    // Round the byte size up to whole cache lines and align the start, so the
    // slots share no cache line with neighbouring heap objects.
    const std::size_t bytes = (capacity * sizeof(T) + cache_line_size - 1) & ~(cache_line_size - 1);
    auto* storage = static_cast<std::byte*>(
        ::operator new(bytes, std::align_val_t{cache_line_size}, std::nothrow));
    if (storage == nullptr) {
      return Error{std::make_error_code(std::errc::not_enough_memory),
                   fmt::format("cannot allocate {} bytes for an SpscRing of capacity {}", bytes, capacity)};
    }
    return SpscRing(storage, capacity);
  }

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;
  SpscRing& operator=(SpscRing&&) = delete;

  // Precondition: no other thread is using `other`.
  SpscRing(SpscRing&& other) noexcept
      : storage_(other.storage_), capacity_(other.capacity_), mask_(other.mask_) {
    producer_.head.store(other.producer_.head.load(std::memory_order_relaxed), std::memory_order_relaxed);
    producer_.cached_tail = other.producer_.cached_tail;
    consumer_.tail.store(other.consumer_.tail.load(std::memory_order_relaxed), std::memory_order_relaxed);
    consumer_.cached_head = other.consumer_.cached_head;
    // Leave `other` with capacity 0 and all indices 0: head - tail == 0 ==
    // capacity, so it reports "full" to pushes and "empty" to pops.
    other.storage_ = nullptr;
    other.capacity_ = 0;
    other.mask_ = 0;
    other.producer_.head.store(0, std::memory_order_relaxed);
    other.producer_.cached_tail = 0;
    other.consumer_.tail.store(0, std::memory_order_relaxed);
    other.consumer_.cached_head = 0;
  }

  ~SpscRing() {
    if (storage_ != nullptr) ::operator delete(storage_, std::align_val_t{cache_line_size});
  }

  // ---- producer side -----------------------------------------------------

  // Copies `value` into the ring. Returns false (and copies nothing) if full.
  [[nodiscard]] bool try_push(const T& value) noexcept {
    // Only this thread stores head, so relaxed reads its own latest value.
    const std::uint64_t head = producer_.head.load(std::memory_order_relaxed);
    if (head - producer_.cached_tail == capacity_) {
      // Acquire pairs with the consumer's release store of tail in
      // try_pop/pop_bulk: the consumer finished copying a slot out before it
      // advanced tail past it, so we may now overwrite that slot.
      producer_.cached_tail = consumer_.tail.load(std::memory_order_acquire);
      if (head - producer_.cached_tail == capacity_) return false;
    }
    copy_bytes(slot(head), &value, sizeof(T));
    // Release pairs with the consumer's acquire load of head: the slot bytes
    // written above are visible before the consumer sees the new head.
    producer_.head.store(head + 1, std::memory_order_release);
    return true;
  }

  // Copies up to items.size() values into the ring, in order. Returns how
  // many were taken (0 if full); the caller still owns the rest.
  [[nodiscard]] std::size_t push_bulk(std::span<const T> items) noexcept {
    const std::uint64_t head = producer_.head.load(std::memory_order_relaxed);  // own index
    std::size_t free_slots = capacity_ - static_cast<std::size_t>(head - producer_.cached_tail);
    if (free_slots < items.size()) {
      // Acquire: same pairing as in try_push (consumer's release store of tail).
      producer_.cached_tail = consumer_.tail.load(std::memory_order_acquire);
      free_slots = capacity_ - static_cast<std::size_t>(head - producer_.cached_tail);
    }
    const std::size_t count = std::min(free_slots, items.size());
    if (count == 0) return 0;
    copy_in(head, items.data(), count);
    // Release: publishes all `count` slots at once (pairs with the consumer's
    // acquire load of head); one index store per batch.
    producer_.head.store(head + count, std::memory_order_release);
    return count;
  }

  // ---- consumer side -----------------------------------------------------

  // Copies the oldest value into `out` and removes it. Returns false (and
  // leaves `out` untouched) if empty.
  [[nodiscard]] bool try_pop(T& out) noexcept {
    // Only this thread stores tail, so relaxed reads its own latest value.
    const std::uint64_t tail = consumer_.tail.load(std::memory_order_relaxed);
    if (tail == consumer_.cached_head) {
      // Acquire pairs with the producer's release store of head in
      // try_push/push_bulk: the slot contents are visible once head is.
      consumer_.cached_head = producer_.head.load(std::memory_order_acquire);
      if (tail == consumer_.cached_head) return false;
    }
    copy_bytes(&out, slot(tail), sizeof(T));
    // Release pairs with the producer's acquire load of tail: our read of the
    // slot completes before the producer may reuse it.
    consumer_.tail.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Moves up to out.size() of the oldest values into `out`, in order.
  // Returns how many were copied (0 if empty).
  [[nodiscard]] std::size_t pop_bulk(std::span<T> out) noexcept {
    const std::uint64_t tail = consumer_.tail.load(std::memory_order_relaxed);  // own index
    std::size_t available = static_cast<std::size_t>(consumer_.cached_head - tail);
    if (available < out.size()) {
      // Acquire: same pairing as in try_pop (producer's release store of head).
      consumer_.cached_head = producer_.head.load(std::memory_order_acquire);
      available = static_cast<std::size_t>(consumer_.cached_head - tail);
    }
    const std::size_t count = std::min(available, out.size());
    if (count == 0) return 0;
    copy_out(tail, out.data(), count);
    // Release: frees all `count` slots at once (pairs with the producer's
    // acquire load of tail).
    consumer_.tail.store(tail + count, std::memory_order_release);
    return count;
  }

  // ---- either side -------------------------------------------------------

  // Number of values in the ring at some instant during the call; exact when
  // called by the producer or consumer while the other side is idle.
  [[nodiscard]] std::size_t size_approx() const noexcept {
    // Load tail first, with acquire: it pairs with the consumer's release
    // store of tail, which happened after the consumer acquired a head value
    // >= that tail. So the head load below reads a value >= tail
    // (read-read coherence), and the difference never underflows.
    const std::uint64_t tail = consumer_.tail.load(std::memory_order_acquire);
    const std::uint64_t head = producer_.head.load(std::memory_order_acquire);
    // The consumer may have advanced meanwhile, so head - tail can briefly
    // exceed capacity; clamp.
    return std::min(static_cast<std::size_t>(head - tail), capacity_);
  }

  [[nodiscard]] bool empty() const noexcept { return size_approx() == 0; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  SpscRing(std::byte* storage, std::size_t capacity) noexcept
      : storage_(storage), capacity_(capacity), mask_(capacity - 1) {
    // Layout check in a member body, where the class is complete.
    // offsetof needs a standard-layout class: all data members are private,
    // there are no bases and every member is standard-layout.
    static_assert(std::is_standard_layout_v<SpscRing>);
    static_assert(offsetof(SpscRing, producer_) - offsetof(SpscRing, storage_) >= cache_line_size,
                  "producer index must not share a cache line with the read-only fields");
    static_assert(offsetof(SpscRing, consumer_) - offsetof(SpscRing, producer_) >= cache_line_size,
                  "producer and consumer indices must be on separate cache lines");
    static_assert(sizeof(SpscRing) - offsetof(SpscRing, consumer_) >= cache_line_size,
                  "consumer index must not share a cache line with whatever follows the ring");
  }

  [[nodiscard]] std::byte* slot(std::uint64_t index) const noexcept {
    return storage_ + static_cast<std::size_t>(index & mask_) * sizeof(T);
  }

  // Every slot copy goes through here. Normally it is plain memcpy, which the
  // compiler turns into moves or `rep movsb`. Under GCC's ThreadSanitizer it
  // must stay a call to the intercepted memcpy: GCC expands a memcpy whose
  // size has a small known bound inline without instrumenting it, and TSan
  // would then not see the slot accesses (a missing acquire or release went
  // unreported in a test until this was added). noipa keeps the size unknown
  // inside the call. Clang instruments its memcpy intrinsics itself.
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
  [[gnu::noipa]]
#endif
  static void copy_bytes(void* destination, const void* source, std::size_t bytes) noexcept {
    std::memcpy(destination, source, bytes);
  }

  // Copies `count` values to slots starting at `index`, in at most two
  // contiguous chunks (before and after the wrap).
  void copy_in(std::uint64_t index, const T* source, std::size_t count) noexcept {
    const std::size_t first = static_cast<std::size_t>(index & mask_);
    const std::size_t before_wrap = std::min(count, capacity_ - first);
    copy_bytes(storage_ + first * sizeof(T), source, before_wrap * sizeof(T));
    if (count > before_wrap) copy_bytes(storage_, source + before_wrap, (count - before_wrap) * sizeof(T));
  }

  void copy_out(std::uint64_t index, T* destination, std::size_t count) const noexcept {
    const std::size_t first = static_cast<std::size_t>(index & mask_);
    const std::size_t before_wrap = std::min(count, capacity_ - first);
    copy_bytes(destination, storage_ + first * sizeof(T), before_wrap * sizeof(T));
    if (count > before_wrap) copy_bytes(destination + before_wrap, storage_, (count - before_wrap) * sizeof(T));
  }

  // Written by the producer only; read by the consumer when its cache runs dry.
  struct alignas(cache_line_size) ProducerLine {
    std::atomic<std::uint64_t> head{0};
    std::uint64_t cached_tail = 0;  // producer's last view of consumer_.tail
  };
  // Written by the consumer only; read by the producer when its cache says full.
  struct alignas(cache_line_size) ConsumerLine {
    std::atomic<std::uint64_t> tail{0};
    std::uint64_t cached_head = 0;  // consumer's last view of producer_.head
  };
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
  static_assert(sizeof(ProducerLine) == cache_line_size && sizeof(ConsumerLine) == cache_line_size);

  // Read-only after construction (shared by both sides without contention).
  std::byte* storage_;
  std::size_t capacity_;
  std::size_t mask_;
  ProducerLine producer_;
  ConsumerLine consumer_;
};

}  // namespace aether
