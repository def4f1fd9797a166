// IndexRing: a bounded lock-free multi-producer multi-consumer ring of
// 32-bit buffer indices with bulk operations: the Mempool's shared store.
//
// Algorithm: Dmitry Vyukov's bounded MPMC queue
// (https://www.1024cores.net/home/lock-free-algorithms/queues/bounded-mpmc-queue),
// extended to claim several consecutive slots with one CAS.
//
// Every slot carries a sequence number that says whose turn it is:
//   sequence == ticket            the slot is empty, ready for the producer
//                                 holding `ticket`
//   sequence == ticket + 1        the slot holds the value written by that
//                                 producer, ready for the consumer holding
//                                 `ticket`
//   sequence == ticket + capacity the consumer is done; empty again, ready
//                                 for the producer one lap later
// Producers take tickets from enqueue_position_, consumers from
// dequeue_position_, each with a CAS. A slot's sequence is only ever
// advanced by the thread that holds its ticket, so after a successful CAS
// the slots that were seen ready stay ready.
//
// Why this and not DPDK's head/tail ring: a DPDK multi-producer must wait
// for earlier producers to move the tail before it may publish, so a
// preempted producer stalls every other one (on a 2-core machine, for a
// whole timeslice). Here nobody ever waits for another thread: an operation
// returns fewer elements instead, which is what alloc_bulk may do anyway.
// The price is one sequence load per element.
//
// Positions and sequences are 64-bit so that they never wrap (2^64
// operations), which rules out ABA on the position CAS however long a
// thread is preempted between its load and its CAS.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace aether::mem {

class IndexRing {
 public:
  // Largest supported capacity; the Mempool keeps buffer counts below it.
  static constexpr std::uint32_t kMaxCapacity = std::uint32_t{1} << 30;

  // Creates an empty ring holding up to `minimum_capacity` rounded up to a
  // power of two (so that `ticket & mask` picks the slot), and at least 2:
  // with one slot, "full at ticket t" (sequence t + 1) reads as "free for
  // ticket t + 1" and a second push overwrote the first (found by
  // tests/fuzz/rings_fuzz.cpp).
  // Precondition: 1 <= minimum_capacity <= kMaxCapacity (the caller
  // validates; this is the control path and allocates the slot array).
  explicit IndexRing(std::uint32_t minimum_capacity)
      : mask_(std::bit_ceil(minimum_capacity < 2 ? 2 : minimum_capacity) - 1), slots_(new Slot[std::size_t{mask_} + 1]) {
    for (std::uint64_t ticket = 0; ticket <= mask_; ++ticket) {
      // relaxed: the ring is not shared yet; publishing the ring object to
      // other threads (thread creation, a mutex) orders these stores.
      slots_[ticket].sequence.store(ticket, std::memory_order_relaxed);
    }
  }

  IndexRing(const IndexRing&) = delete;
  IndexRing& operator=(const IndexRing&) = delete;

  [[nodiscard]] std::uint32_t capacity() const noexcept { return mask_ + 1; }

  // Appends up to values.size() indices; returns how many, in order from
  // the front of `values`. Fewer than asked only when the ring is (nearly)
  // full. Never blocks.
  [[nodiscard]] unsigned push_bulk(std::span<const std::uint32_t> values) noexcept {
    if (values.empty()) return 0;
    // relaxed: the position is only a guess at a free ticket; the CAS below
    // validates it, and the data is ordered by the slot sequences.
    std::uint64_t position = enqueue_position_.load(std::memory_order_relaxed);
    for (;;) {
      const unsigned ready = count_ready(position, /*lap_offset=*/0, values.size());
      if (ready == 0) {
        if (is_stale(enqueue_position_, position)) continue;
        return 0;  // full
      }
      // relaxed (success and failure): the CAS only hands out tickets. The
      // acquire loads in count_ready() already ordered our slot writes after
      // the consumers' reads of the previous lap.
      if (enqueue_position_.compare_exchange_weak(position, position + ready, std::memory_order_relaxed,
                                                  std::memory_order_relaxed)) {
        for (unsigned i = 0; i < ready; ++i) {
          Slot& slot = slots_[(position + i) & mask_];
          slot.value = values[i];
          // release: publishes slot.value to the consumer that will
          // acquire-load this sequence.
          slot.sequence.store(position + i + 1, std::memory_order_release);
        }
        return ready;
      }
      // CAS failure reloaded `position`; try again with the new one.
    }
  }

  // Removes up to out.size() indices into the front of `out`; returns how
  // many. Fewer than asked when the ring is (nearly) empty, or when a
  // producer holding the next ticket has not published yet. Never blocks.
  [[nodiscard]] unsigned pop_bulk(std::span<std::uint32_t> out) noexcept {
    if (out.empty()) return 0;
    // relaxed: a guess validated by the CAS, as in push_bulk.
    std::uint64_t position = dequeue_position_.load(std::memory_order_relaxed);
    for (;;) {
      const unsigned ready = count_ready(position, /*lap_offset=*/1, out.size());
      if (ready == 0) {
        if (is_stale(dequeue_position_, position)) continue;
        return 0;  // empty
      }
      // relaxed: hands out tickets only; the acquire loads of the slot
      // sequences in count_ready() made the producers' values visible.
      if (dequeue_position_.compare_exchange_weak(position, position + ready, std::memory_order_relaxed,
                                                  std::memory_order_relaxed)) {
        for (unsigned i = 0; i < ready; ++i) {
          Slot& slot = slots_[(position + i) & mask_];
          out[i] = slot.value;
          // release: our read of slot.value happens before the producer of
          // the next lap (which acquire-loads this sequence) overwrites it.
          slot.sequence.store(position + i + std::uint64_t{mask_} + 1, std::memory_order_release);
        }
        return ready;
      }
    }
  }

  // Number of indices in the ring. Exact when no operation is in flight,
  // approximate under concurrency (the two positions are read separately).
  [[nodiscard]] std::uint32_t size() const noexcept {
    // acquire on both: gives a recent, consistent-enough snapshot for
    // reporting; the result is clamped because the reads are not atomic
    // together.
    const std::uint64_t dequeued = dequeue_position_.load(std::memory_order_acquire);
    const std::uint64_t enqueued = enqueue_position_.load(std::memory_order_acquire);
    if (enqueued <= dequeued) return 0;
    const std::uint64_t difference = enqueued - dequeued;
    return difference > capacity() ? capacity() : static_cast<std::uint32_t>(difference);
  }

 private:
  struct Slot {
    std::atomic<std::uint64_t> sequence;
    std::uint32_t value;  // plain: ordered by `sequence`, see push_bulk/pop_bulk
  };
  static_assert(sizeof(Slot) == 16, "four slots per cache line");
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the ring must not hide a lock in std::atomic");

  // How many consecutive slots from ticket `position` are ready: for a
  // producer (lap_offset 0) sequence == ticket, for a consumer (lap_offset 1)
  // sequence == ticket + 1. Stops at the first slot that is not.
  [[nodiscard]] unsigned count_ready(std::uint64_t position, std::uint64_t lap_offset,
                                     std::size_t wanted) const noexcept {
    const std::size_t limit = wanted < capacity() ? wanted : capacity();
    unsigned ready = 0;
    while (ready < limit) {
      // acquire: pairs with the release store by the previous owner of the
      // slot (a consumer freeing it, or a producer filling it), so that our
      // later write or read of slot.value is ordered after theirs.
      const std::uint64_t sequence = slots_[(position + ready) & mask_].sequence.load(std::memory_order_acquire);
      if (sequence != position + ready + lap_offset) break;
      ++ready;
    }
    return ready;
  }

  // True (and `position` refreshed) when another thread has moved `cursor`
  // past `position`, i.e. the slot we looked at was not ours to judge.
  [[nodiscard]] static bool is_stale(const std::atomic<std::uint64_t>& cursor, std::uint64_t& position) noexcept {
    // relaxed: only compared with our guess; the CAS validates whatever we
    // do next.
    const std::uint64_t current = cursor.load(std::memory_order_relaxed);
    if (current == position) return false;
    position = current;
    return true;
  }

  // Read-only after construction, on a line of its own so that the writes
  // to the positions below never invalidate it.
  alignas(64) const std::uint32_t mask_;
  std::unique_ptr<Slot[]> slots_;
  // Producers and consumers on separate cache lines: a push does not
  // invalidate the line the consumers CAS on, and vice versa.
  alignas(64) std::atomic<std::uint64_t> enqueue_position_{0};
  // alignas(64) also rounds sizeof up to whole lines, so nothing placed
  // after a ring shares dequeue_position_'s line.
  alignas(64) std::atomic<std::uint64_t> dequeue_position_{0};
};

static_assert(sizeof(IndexRing) == 3 * 64, "mask/slots, enqueue and dequeue positions on three cache lines");

}  // namespace aether::mem
