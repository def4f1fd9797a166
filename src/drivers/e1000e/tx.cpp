// LegacyQueue transmit path (82574 datasheet 7.2; legacy descriptor
// layout in registers.hpp). noexcept, no allocation, no syscall: one TDT
// write per burst.
#include <cstring>

#include "aether/drivers/e1000e/legacy_queue.hpp"
#include "aether/drivers/mmio.hpp"

namespace aether::drivers::e1000e {
namespace {

// EOP: the frame ends in this descriptor; IFCS: the device appends the
// FCS; RS: it reports completion by setting DD in this descriptor.
constexpr std::uint64_t tx_command = tx_command_eop | tx_command_insert_fcs | tx_command_report_status;

void free_one(net::Packet* packet) noexcept { packet->pool->free_bulk(std::span<net::Packet* const>(&packet, 1)); }

}  // namespace

void LegacyQueue::reap_tx() noexcept {
  // Descriptors complete in order (RS on each, 82574 datasheet 7.2.3), so
  // one DD read tells a whole batch is done: the batch's last descriptor,
  // or, with less than a batch in flight, the last one sent.
  while (tx_clean_ != tx_tail_) {
    const std::uint32_t in_flight = tx_tail_ - tx_clean_;
    const std::uint32_t batch = in_flight < clean_batch_ ? in_flight : clean_batch_;
    const volatile LegacyTxDesc& last = rings_.tx_ring[(tx_clean_ + batch - 1) & mask_];
    if ((last.status & descriptor_done) == 0) break;
    // The batch's packets, contiguous in the ring but for the wrap.
    const std::uint32_t first = tx_clean_ & mask_;
    const std::uint32_t before_wrap = mask_ + 1 - first < batch ? mask_ + 1 - first : batch;
    pool_.free_bulk(std::span<net::Packet* const>(&tx_packets_[first], before_wrap), &cache_);
    if (before_wrap < batch) pool_.free_bulk(std::span<net::Packet* const>(&tx_packets_[0], batch - before_wrap), &cache_);
    tx_clean_ += batch;
  }
}

unsigned LegacyQueue::tx_burst(std::span<net::Packet*> packets) noexcept {
  if (health_.faulted()) return 0;  // one relaxed load; the device is looked at when idle
  reap_tx();
  if (packets.empty()) return 0;

  std::uint32_t room = mask_ - (tx_tail_ - tx_clean_);  // size - 1 - in flight
  unsigned taken = 0;
  unsigned posted = 0;
  unsigned bad_frames = 0;
  std::uint64_t bytes = 0;
  for (; taken < packets.size(); ++taken) {
    net::Packet* packet = packets[taken];
    const std::uint16_t length = packet->data_length;
    if (packet->next != nullptr || length == 0 || length > tx_max_frame) {
      // One descriptor per packet, one standard frame per packet: a chain,
      // an empty or an oversized frame is taken and dropped.
      packet->pool->free_bulk(std::span<net::Packet* const>(&packet, 1), packet->pool == &pool_ ? &cache_ : nullptr);
      ++bad_frames;
      continue;
    }
    if (room == 0) break;  // ring full: the caller keeps the rest
    if (packet->pool != &pool_) {
      // Another pool's buffer is not mapped for this device: send a copy.
      net::Packet* copy = nullptr;
      if (pool_.alloc_bulk(std::span(&copy, 1), &cache_) == 0) break;  // our pool is empty: the caller keeps it
      std::memcpy(copy->data(), packet->data(), length);
      copy->data_length = length;
      copy->packet_length = length;
      free_one(packet);
      foreign_copies_.add(1);
      packet = copy;
    }
    const std::uint32_t slot = tx_tail_ & mask_;
    // Whole descriptor, status (DD) 0. Volatile so the compiler emits the
    // stores before the TDT write below (whose compiler barrier orders them).
    auto* words = reinterpret_cast<volatile std::uint64_t*>(&rings_.tx_ring[slot]);
    words[0] = iova_of_data(packet);
    words[1] = std::uint64_t{length} | (tx_command << 24);
    tx_packets_[slot] = packet;
    ++tx_tail_;
    --room;
    ++posted;
    bytes += length;
  }
  if (posted != 0) mmio::write32(bar0_, reg::tdt, tx_tail_ & mask_);

  counters_.tx_packets.add(posted);
  counters_.tx_bytes.add(bytes);
  if (bad_frames != 0) counters_.tx_drop_bad_frame.add(bad_frames);
  return taken;
}

}  // namespace aether::drivers::e1000e
