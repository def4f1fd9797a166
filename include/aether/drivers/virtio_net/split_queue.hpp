// SplitQueue: one virtio split virtqueue (virtio 1.2, 2.7) in DMA memory
// the driver owns: descriptor table, available (driver) ring, used
// (device) ring. The queue does not own the memory; it is given a block of
// layout_for(size).total bytes mapped at `iova`.
//
// Single-threaded (one queue, one thread). Ordering with the device: ring
// entries are written before the index that publishes them, and the used
// index is read before the entries it covers. x86-64 keeps stores in order
// and loads in order (Intel SDM vol. 3, 8.2.2), so a compiler barrier
// (std::atomic_signal_fence) is all that is needed; see drivers/mmio.hpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace aether::drivers::virtio_net {

// struct virtq_desc (2.7.5).
struct VirtqDesc {
  std::uint64_t addr;  // IOVA
  std::uint32_t len;
  std::uint16_t flags;  // NEXT 1, WRITE 2 (device writes), INDIRECT 4
  std::uint16_t next;
};
static_assert(sizeof(VirtqDesc) == 16);
inline constexpr std::uint16_t virtq_desc_f_next = 1;
inline constexpr std::uint16_t virtq_desc_f_write = 2;
inline constexpr std::uint16_t virtq_avail_f_no_interrupt = 1;  // avail->flags (2.7.6)
inline constexpr std::uint16_t virtq_used_f_no_notify = 1;      // used->flags (2.7.8)

// struct virtq_used_elem (2.7.8).
struct VirtqUsedElem {
  std::uint32_t id;   // head descriptor index
  std::uint32_t len;  // bytes the device wrote
};
static_assert(sizeof(VirtqUsedElem) == 8);

struct SplitQueueLayout {
  std::size_t descriptors = 0;  // offset of the descriptor table (align 16)
  std::size_t available = 0;    // offset of the available ring (align 2)
  std::size_t used = 0;         // offset of the used ring (align 4)
  std::size_t total = 0;
};

// Offsets for a queue of `size` entries (power of two, <= 32768; 2.7 table
// "Virtqueue Part Alignment and Size"): descriptors 16*size, available ring
// 6+2*size, used ring 6+8*size. Each part starts on a 64-byte line so the
// driver-written and device-written parts never share a cache line.
[[nodiscard]] constexpr SplitQueueLayout layout_for(std::uint16_t size) noexcept {
  const auto align = [](std::size_t value) { return (value + 63) & ~std::size_t{63}; };
  SplitQueueLayout layout;
  layout.descriptors = 0;
  layout.available = align(16 * std::size_t{size});
  layout.used = align(layout.available + 6 + 2 * std::size_t{size});
  layout.total = align(layout.used + 6 + 8 * std::size_t{size});
  return layout;
}

class SplitQueue {
 public:
  SplitQueue() noexcept = default;
  // `memory` holds layout_for(size).total zeroed bytes at IOVA `iova`.
  SplitQueue(std::byte* memory, std::uint64_t iova, std::uint16_t size) noexcept;

  [[nodiscard]] std::uint16_t size() const noexcept { return size_; }
  [[nodiscard]] std::uint64_t descriptors_iova() const noexcept { return iova_ + layout_.descriptors; }
  [[nodiscard]] std::uint64_t available_iova() const noexcept { return iova_ + layout_.available; }
  [[nodiscard]] std::uint64_t used_iova() const noexcept { return iova_ + layout_.used; }

  // Puts one buffer in descriptor `slot` (< size) and on the available
  // ring; visible to the device after publish(). No chaining: one
  // descriptor per buffer.
  void add_buffer(std::uint16_t slot, std::uint64_t buffer_iova, std::uint32_t length, bool device_writes) noexcept;
  // A two-descriptor chain in slots `head` and head + 1 (< size): a
  // device-readable request, then a device-writable response (2.7.4: the
  // writable part after the readable one), as the control virtqueue's
  // commands are (5.1.6.5). On the available ring as one entry, `head`.
  void add_request_response(std::uint16_t head, std::uint64_t request_iova, std::uint32_t request_length,
                            std::uint64_t response_iova, std::uint32_t response_length) noexcept;
  // Makes every added buffer visible to the device (avail->idx).
  void publish() noexcept;

  // The used ring in two phases, as libxdp's xsk_ring_cons__peek/release:
  // peek_used() reads the device's used->idx once and says how many used
  // elements are ready; next_used() then takes them one by one without
  // touching the index again, so a burst costs one read of the line the
  // device writes, not one per element. A device is untrusted: a used->idx
  // that claims more elements than the driver has published and not yet
  // taken back (2.7.8: the device returns only buffers it was given) is not
  // followed; peek_used returns 0 from then on and used_index_overrun() says
  // why. Without the bound, a bogus index makes the driver read stale
  // elements, up to 65535 per burst.
  [[nodiscard]] std::uint16_t peek_used() noexcept;
  // Precondition: fewer next_used() calls since the last peek_used() than
  // it returned (asserted in debug builds).
  [[nodiscard]] VirtqUsedElem next_used() noexcept;
  // The descriptor id of the element `ahead` positions after the next one
  // (ahead < what is left of the peek), for prefetching what it names; an
  // untrusted value, to be bounds-checked before use.
  [[nodiscard]] std::uint32_t upcoming_used_id(std::uint16_t ahead) const noexcept;
  // One element at a time (peek_used, then next_used if there is one): for
  // control-path callers such as `aether vfio-probe`; the data path peeks
  // once per burst.
  [[nodiscard]] bool take_used(VirtqUsedElem& element) noexcept;
  // True when the device has returned an element not taken yet.
  [[nodiscard]] bool has_used() const noexcept;
  // Buffers published to the device and not yet returned through the used ring.
  [[nodiscard]] std::uint16_t outstanding() const noexcept {
    return static_cast<std::uint16_t>(published_index_ - used_index_);
  }
  // The device's used->idx once ran ahead of outstanding(): a device bug;
  // the ring is no longer trusted (the caller stops the queue).
  [[nodiscard]] bool used_index_overrun() const noexcept { return used_index_overrun_; }

  // After publish(): does the device want a notification? False while it
  // sets VIRTQ_USED_F_NO_NOTIFY (2.7.10; it is polling the ring anyway).
  // A full fence first (2.7.13.4: the driver MUST perform a suitable memory
  // barrier before reading flags): x86 may let this load pass the store of
  // avail->idx (Intel SDM vol. 3, 8.2.3.4), and then a device that just
  // cleared the flag and went to sleep would miss our buffers.
  [[nodiscard]] bool device_wants_notification() const noexcept;

  // Asks the device not to interrupt on used buffers
  // (VIRTQ_AVAIL_F_NO_INTERRUPT, 2.7.7) or lets it again. Without
  // EVENT_IDX this is only a hint: the device may interrupt anyway.
  // Letting it interrupt again fences (as above): the flag store must be
  // visible before the caller's next look at the used ring, or a buffer the
  // device returned in between would raise no interrupt and be missed.
  void set_interrupt_suppression(bool suppress) noexcept;

 private:
  VirtqDesc* descriptors_ = nullptr;
  std::uint16_t* available_ = nullptr;  // flags, idx, ring[size]
  std::byte* used_ = nullptr;           // flags, idx, ring[size] of VirtqUsedElem
  std::uint64_t iova_ = 0;
  SplitQueueLayout layout_{};
  std::uint16_t size_ = 0;
  std::uint16_t available_index_ = 0;  // next free available-ring position (free-running)
  std::uint16_t published_index_ = 0;  // avail->idx as last written by publish()
  std::uint16_t used_index_ = 0;       // next used-ring position to read (free-running)
  std::uint16_t peeked_ = 0;           // elements the last peek_used() found and next_used() has not taken
  bool used_index_overrun_ = false;
};

}  // namespace aether::drivers::virtio_net
