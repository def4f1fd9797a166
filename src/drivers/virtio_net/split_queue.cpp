#include "aether/drivers/virtio_net/split_queue.hpp"

#include <cassert>
#include <cstring>

namespace aether::drivers::virtio_net {

SplitQueue::SplitQueue(std::byte* memory, std::uint64_t iova, std::uint16_t size) noexcept
    : iova_(iova), layout_(layout_for(size)), size_(size) {
  descriptors_ = reinterpret_cast<VirtqDesc*>(memory + layout_.descriptors);
  available_ = reinterpret_cast<std::uint16_t*>(memory + layout_.available);
  used_ = memory + layout_.used;
}

void SplitQueue::add_buffer(std::uint16_t slot, std::uint64_t buffer_iova, std::uint32_t length,
                            bool device_writes) noexcept {
  descriptors_[slot] = VirtqDesc{buffer_iova, length, device_writes ? virtq_desc_f_write : std::uint16_t{0}, 0};
  // ring[] starts after flags and idx (2.7.6); size is a power of two.
  available_[2 + (available_index_ & (size_ - 1))] = slot;
  ++available_index_;
}

void SplitQueue::add_request_response(std::uint16_t head, std::uint64_t request_iova, std::uint32_t request_length,
                                      std::uint64_t response_iova, std::uint32_t response_length) noexcept {
  const auto second = static_cast<std::uint16_t>(head + 1);
  descriptors_[head] = VirtqDesc{request_iova, request_length, virtq_desc_f_next, second};
  descriptors_[second] = VirtqDesc{response_iova, response_length, virtq_desc_f_write, 0};
  available_[2 + (available_index_ & (size_ - 1))] = head;
  ++available_index_;
}

void SplitQueue::publish() noexcept {
  // 2.7.13: descriptors and ring entries before the index that exposes them.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  reinterpret_cast<volatile std::uint16_t*>(available_)[1] = available_index_;
  published_index_ = available_index_;
}

std::uint16_t SplitQueue::peek_used() noexcept {
  if (used_index_overrun_) return 0;
  const std::uint16_t device_index = reinterpret_cast<volatile std::uint16_t*>(used_)[1];
  // Free-running 16-bit indices (2.7.8): the difference is what the device
  // says it returned since we last looked; never more than it holds.
  const auto ready = static_cast<std::uint16_t>(device_index - used_index_);
  if (ready > outstanding()) {
    used_index_overrun_ = true;
    peeked_ = 0;
    return 0;
  }
  // The index before the elements it covers (2.7.8): loads stay in order
  // on x86, this keeps the compiler from hoisting the element loads.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  peeked_ = ready;
  return ready;
}

VirtqUsedElem SplitQueue::next_used() noexcept {
  assert(peeked_ != 0 && "next_used beyond what peek_used returned");
  VirtqUsedElem element;
  const std::size_t position = used_index_ & (size_ - 1);
  std::memcpy(&element, used_ + 4 + position * sizeof(VirtqUsedElem), sizeof(element));
  ++used_index_;
  --peeked_;
  return element;
}

std::uint32_t SplitQueue::upcoming_used_id(std::uint16_t ahead) const noexcept {
  std::uint32_t id;
  const std::size_t position = static_cast<std::uint16_t>(used_index_ + ahead) & (size_ - 1);
  std::memcpy(&id, used_ + 4 + position * sizeof(VirtqUsedElem), sizeof(id));
  return id;
}

bool SplitQueue::take_used(VirtqUsedElem& element) noexcept {
  if (peek_used() == 0) return false;
  element = next_used();
  return true;
}

bool SplitQueue::has_used() const noexcept {
  return reinterpret_cast<volatile const std::uint16_t*>(used_)[1] != used_index_;
}

bool SplitQueue::device_wants_notification() const noexcept {
  // MFENCE: orders the avail->idx store before the used->flags load (a
  // store-load pair, the one reordering x86 does). Linux's virtio_mb().
  __builtin_ia32_mfence();
  return (reinterpret_cast<volatile const std::uint16_t*>(used_)[0] & virtq_used_f_no_notify) == 0;
}

void SplitQueue::set_interrupt_suppression(bool suppress) noexcept {
  reinterpret_cast<volatile std::uint16_t*>(available_)[0] = suppress ? virtq_avail_f_no_interrupt : std::uint16_t{0};
  if (!suppress) __builtin_ia32_mfence();  // store (flags) before the next load (used->idx)
}

}  // namespace aether::drivers::virtio_net
