// virtio-net receive: used receive descriptors become packets, their slots
// get fresh buffers (see net_queue.hpp).
#include "aether/drivers/virtio_net/net_queue.hpp"

namespace aether::drivers::virtio_net {
namespace {

constexpr std::uint32_t ethernet_header = 14;  // IEEE 802.3: destination, source, EtherType

}  // namespace

net::Packet* NetQueue::take_spare() noexcept {
  if (spare_count_ == 0) spare_count_ = pool_.alloc_bulk(std::span<net::Packet*>(spares_, spare_batch), &cache_);
  return spare_count_ == 0 ? nullptr : spares_[--spare_count_];
}

void NetQueue::post_receive(std::uint16_t slot, net::Packet* packet) noexcept {
  // The header goes into the headroom just before data() (checked at open:
  // headroom >= 12), the frame at data(); the device may write up to the
  // end of the buffer.
  const std::byte* header = packet->data() - net_header_size;
  const auto length = static_cast<std::uint32_t>(net_header_size + packet->buffer_length - packet->data_offset);
  receive_slots_[slot] = packet;
  receive_.add_buffer(slot, iova_of(header), length, /*device_writes=*/true);
}

unsigned NetQueue::rx_burst(std::span<net::Packet*> packets) noexcept {
  if (stopped()) return 0;
  unsigned received = 0;
  unsigned reposted = 0;
  std::uint64_t bytes = 0;
  std::uint64_t bad = 0, truncated = 0, no_buffer = 0;
  // used->idx once per burst (peek), then the elements it covers; at most
  // a burst's worth, the rest waits for the next burst.
  const unsigned ready = receive_.peek_used();
  const unsigned taking = ready < packets.size() ? ready : static_cast<unsigned>(packets.size());
  // The poll time, once per burst that found something (no syscall: the
  // port hands a clock only when it runs on the TSC).
  const std::uint64_t poll_ns = taking != 0 && clock_ != nullptr ? clock_->to_ns(clock_->now()) : 0;
  for (unsigned i = 0; i < taking; ++i) {
    const VirtqUsedElem element = receive_.next_used();
    if (i + 1 < taking) {
      // The next packet's metadata is written below one iteration from now:
      // start loading its line (the id is the device's: masked, and a
      // prefetch of whatever it names cannot fault).
      __builtin_prefetch(receive_slots_[receive_.upcoming_used_id(0) & (size_ - 1U)], 1);
    }
    net::Packet* packet = element.id < size_ ? receive_slots_[element.id] : nullptr;
    if (packet == nullptr) {
      invalid_used_.add(1);  // nothing of ours in that slot: nothing to hand over or repost
      continue;
    }
    const auto slot = static_cast<std::uint16_t>(element.id);
    const std::uint32_t posted = net_header_size + packet->buffer_length - packet->data_offset;
    net::Packet* refill = nullptr;
    if (element.len < net_header_size + ethernet_header) {
      ++bad;
    } else if (element.len > posted) {
      ++truncated;  // claims more than the buffer holds: the tail is not ours to read
    } else if ((refill = take_spare()) == nullptr) {
      ++no_buffer;
    }
    if (refill == nullptr) {
      // Dropped and counted; the same buffer goes straight back.
      post_receive(slot, packet);
      ++reposted;
      continue;
    }
    const auto length = static_cast<std::uint16_t>(element.len - net_header_size);
    (void)packet->set_length(length);  // fits: length <= posted - 12
    packet->port = port_id_;
    packet->queue = queue_id_;
    packet->timestamp = poll_ns;
    bytes += length;
    packets[received++] = packet;
    post_receive(slot, refill);
    ++reposted;
  }
  check_used_index(receive_);
  if (reposted != 0) {
    receive_.publish();
    if (receive_.device_wants_notification()) notify(windows_.receive_notify, receive_queue_index);
  }
  if (received != 0) {
    counters_.rx_packets.add(received);
    counters_.rx_bytes.add(bytes);
  } else if (reposted == 0) {
    note_idle();
  }
  if (bad != 0) counters_.rx_drop_bad_frame.add(bad);
  if (truncated != 0) counters_.rx_drop_truncated.add(truncated);
  if (no_buffer != 0) counters_.rx_drop_no_buffer.add(no_buffer);
  return received;
}

}  // namespace aether::drivers::virtio_net
