// NetQueue's data path against a device played in memory: the test reads
// the available rings and descriptors as a virtio device would (2.7.5-2.7.8),
// translates IOVAs with the same two mappings the port makes, writes frames
// and used elements. Registers (device_status, doorbells) are plain bytes.
#include "aether/drivers/virtio_net/net_queue.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "aether/drivers/virtio_net/registers.hpp"

namespace aether::drivers::virtio_net {
namespace {

constexpr std::uint64_t test_ring_iova = 0x40000000;
constexpr std::uint64_t test_pool_iova = 0x100000000;
constexpr std::uint8_t running = device_status::acknowledge | device_status::driver | device_status::features_ok |
                                 device_status::driver_ok;

std::unique_ptr<mem::Mempool> make_pool(std::uint32_t count, std::string name) {
  mem::MempoolConfig config;
  config.count = count;
  config.headroom = 256;
  config.cache_size = 0;  // exact counts: nothing hides in a cache
  config.name = std::move(name);
  config.region.use_hugepages = false;
  auto pool = mem::Mempool::create(config);
  EXPECT_TRUE(pool) << pool.error().describe();
  return std::move(*pool);
}

std::vector<std::byte> frame_of(std::size_t length, std::uint8_t fill) {
  std::vector<std::byte> frame(length, std::byte{fill});
  return frame;
}

// The device side of one queue pair.
class PlayedDevice {
 public:
  PlayedDevice(std::uint16_t size, mem::Mempool& pool)
      : size_(size), pool_(pool), rings_(ring_memory_bytes(size) + ring_page_size) {
    common_[common_cfg::device_status] = std::byte{running};
  }

  std::byte* ring_memory() { return aligned(); }
  DeviceWindows windows() { return {common_.data(), receive_notify_.data(), transmit_notify_.data()}; }
  void set_status(std::uint8_t status) { common_[common_cfg::device_status] = std::byte{status}; }
  void set_no_notify(std::uint16_t queue, bool no_notify) {
    const std::uint16_t flags = no_notify ? virtq_used_f_no_notify : 0;
    std::memcpy(part(queue, layout().used), &flags, 2);
  }
  // Doorbell writes since the last call (the value written is the queue index).
  bool take_doorbell(std::uint16_t queue) {
    auto& doorbell = queue == receive_queue_index ? receive_notify_ : transmit_notify_;
    std::uint16_t value = 0xffff;
    std::memcpy(&value, doorbell.data(), 2);
    std::memset(doorbell.data(), 0xff, doorbell.size());
    EXPECT_TRUE(value == 0xffff || value == queue) << value;
    return value == queue;
  }

  std::uint16_t available_index(std::uint16_t queue) { return read16(part(queue, layout().available) + 2); }
  std::uint16_t available_flags(std::uint16_t queue) { return read16(part(queue, layout().available)); }

  // Writes header + frame into the next receive buffer and returns it as
  // used with `reported` bytes (default: what was written).
  std::uint16_t deliver(const std::vector<std::byte>& frame, std::optional<std::uint32_t> reported = std::nullopt) {
    const VirtqDesc descriptor = next_available(receive_queue_index);
    EXPECT_EQ(descriptor.flags, virtq_desc_f_write);
    const std::uint32_t written = static_cast<std::uint32_t>(net_header_size + frame.size());
    EXPECT_LE(written, descriptor.len);
    std::byte* buffer = translate(descriptor.addr);
    VirtioNetHeader header{};
    header.num_buffers = 1;
    std::memcpy(buffer, &header, sizeof(header));
    std::memcpy(buffer + net_header_size, frame.data(), frame.size());
    const auto slot = last_descriptor_;
    put_used(receive_queue_index, slot, reported.value_or(written));
    return slot;
  }
  // Writes used->idx as a broken or hostile device might: `ahead` more
  // than the elements it returned so far.
  void overrun_used_index(std::uint16_t queue, std::uint16_t ahead) {
    const auto index = static_cast<std::uint16_t>(produced_[queue] + ahead);
    std::memcpy(part(queue, layout().used) + 2, &index, 2);
  }
  // Returns an element naming descriptor `id` without any buffer.
  void return_bogus(std::uint16_t queue, std::uint32_t id) { put_used(queue, id, 64); }

  // Takes every transmitted buffer, checks its header, returns it as used.
  std::vector<std::vector<std::byte>> transmit_all() {
    std::vector<std::vector<std::byte>> frames;
    while (consumed_[transmit_queue_index] != available_index(transmit_queue_index)) {
      const VirtqDesc descriptor = next_available(transmit_queue_index);
      EXPECT_EQ(descriptor.flags, 0);
      const std::byte* buffer = translate(descriptor.addr);
      VirtioNetHeader header{};
      std::memcpy(&header, buffer, sizeof(header));
      EXPECT_EQ(header.flags, 0);
      EXPECT_EQ(header.num_buffers, 0);
      frames.emplace_back(buffer + net_header_size, buffer + descriptor.len);
      put_used(transmit_queue_index, last_descriptor_, 0);
    }
    return frames;
  }

 private:
  SplitQueueLayout layout() const { return layout_for(size_); }
  std::byte* aligned() {
    auto address = reinterpret_cast<std::uintptr_t>(rings_.data());
    return rings_.data() + ((ring_page_size - address % ring_page_size) % ring_page_size);
  }
  std::byte* part(std::uint16_t queue, std::size_t offset) {
    return aligned() + queue * queue_ring_stride(size_) + offset;
  }
  static std::uint16_t read16(const std::byte* at) {
    std::uint16_t value = 0;
    std::memcpy(&value, at, 2);
    return value;
  }
  std::byte* translate(std::uint64_t iova) {
    EXPECT_GE(iova, test_pool_iova);
    EXPECT_LT(iova - test_pool_iova, pool_.region().length());
    return pool_.region().base() + (iova - test_pool_iova);
  }
  VirtqDesc next_available(std::uint16_t queue) {
    EXPECT_NE(consumed_[queue], available_index(queue)) << "the driver offered no buffer";
    const std::uint16_t position = consumed_[queue]++ & (size_ - 1);
    last_descriptor_ = read16(part(queue, layout().available) + 4 + 2 * position);
    VirtqDesc descriptor{};
    std::memcpy(&descriptor, part(queue, layout().descriptors) + last_descriptor_ * sizeof(VirtqDesc),
                sizeof(descriptor));
    return descriptor;
  }
  void put_used(std::uint16_t queue, std::uint32_t id, std::uint32_t length) {
    const VirtqUsedElem element{id, length};
    std::memcpy(part(queue, layout().used) + 4 + (produced_[queue] & (size_ - 1)) * sizeof(element), &element,
                sizeof(element));
    ++produced_[queue];
    std::memcpy(part(queue, layout().used) + 2, &produced_[queue], 2);
  }

  std::uint16_t size_;
  mem::Mempool& pool_;
  std::vector<std::byte> rings_;
  std::array<std::byte, 64> common_{};
  std::array<std::byte, 4> receive_notify_{std::byte{0xff}, std::byte{0xff}};
  std::array<std::byte, 4> transmit_notify_{std::byte{0xff}, std::byte{0xff}};
  std::array<std::uint16_t, 2> consumed_{};
  std::array<std::uint16_t, 2> produced_{};
  std::uint16_t last_descriptor_ = 0;
};

class NetQueueTest : public ::testing::Test {
 protected:
  void open(std::uint16_t size = 16, std::uint32_t buffers = 128, int interrupt_fd = -1) {
    pool_ = make_pool(buffers, "virtio-test");
    device_ = std::make_unique<PlayedDevice>(size, *pool_);
    NetQueueConfig config;
    config.size = size;
    config.port_id = 7;
    config.ring_iova = test_ring_iova;
    config.pool_iova = test_pool_iova;
    config.rx_interrupt_fd = interrupt_fd;
    config.clock = clock_;
    queue_ = std::make_unique<NetQueue>(*pool_, device_->ring_memory(), device_->windows(), config);
    auto posted = queue_->post_receive_buffers();
    ASSERT_TRUE(posted) << posted.error().describe();
    queue_->start();
  }
  void TearDown() override {
    if (queue_) queue_->release_ring_buffers();
    queue_.reset();
    if (pool_) {
      EXPECT_EQ(pool_->available(), pool_->capacity()) << "a buffer was lost";
    }
  }
  std::vector<net::Packet*> frames(unsigned count, std::uint16_t length) {
    std::vector<net::Packet*> packets(count);
    EXPECT_EQ(pool_->alloc_bulk(packets), count);
    for (unsigned i = 0; i < count; ++i) {
      std::memset(packets[i]->data(), 0x40 + static_cast<int>(i), length);
      EXPECT_TRUE(packets[i]->set_length(length));
    }
    return packets;
  }

  std::unique_ptr<mem::Mempool> pool_;
  std::unique_ptr<PlayedDevice> device_;
  std::unique_ptr<NetQueue> queue_;
  const aether::Clock* clock_ = nullptr;  // rx timestamps when set
};

TEST(NetQueueLayout, EachQueueStartsOnAPageAndA256EntryUsedRingStaysInOne) {
  static_assert(queue_ring_stride(256) == 8192);
  static_assert(ring_memory_bytes(256) == 16384);
  static_assert(queue_ring_stride(16) % ring_page_size == 0);
  for (std::uint16_t size = 16; size <= 256; size *= 2) {
    const auto layout = layout_for(size);
    const std::size_t used_end = layout.used + 6 + 8 * std::size_t{size};
    EXPECT_EQ(layout.used / ring_page_size, (used_end - 1) / ring_page_size) << size;
  }
}

TEST_F(NetQueueTest, PostsEveryReceiveBufferAndRingsOnlyAfterStart) {
  open(16);
  EXPECT_EQ(device_->available_index(receive_queue_index), 16);
  EXPECT_TRUE(device_->take_doorbell(receive_queue_index));
  EXPECT_FALSE(device_->take_doorbell(transmit_queue_index));
}

TEST_F(NetQueueTest, ReceivedFrameLandsAtDataWithTheHeaderInTheHeadroom) {
  open();
  const auto frame = frame_of(60, 0xab);
  device_->deliver(frame);
  device_->deliver(frame_of(1514, 0xcd));
  net::Packet* packets[8] = {};
  ASSERT_EQ(queue_->rx_burst(packets), 2U);
  EXPECT_EQ(packets[0]->length(), 60);
  EXPECT_EQ(packets[0]->data_offset, pool_->headroom());
  EXPECT_EQ(packets[0]->port, 7);
  EXPECT_EQ(std::memcmp(packets[0]->data(), frame.data(), frame.size()), 0);
  EXPECT_EQ(packets[1]->length(), 1514);
  EXPECT_EQ(std::to_integer<int>(packets[1]->data()[1513]), 0xcd);
  // Both slots refilled at once and the device told so.
  EXPECT_EQ(device_->available_index(receive_queue_index), 16 + 2);
  const auto stats = queue_->stats();
  EXPECT_EQ(stats.rx_packets, 2U);
  EXPECT_EQ(stats.rx_bytes, 60U + 1514U);
  EXPECT_EQ(stats.rx_drops(), 0U);
  EXPECT_EQ(packets[0]->timestamp, 0U);  // no clock given: no timestamps
  pool_->free_bulk(std::span<net::Packet* const>(packets, 2));
}

TEST_F(NetQueueTest, ReceivedFramesCarryThePollTimeOfTheirBurst) {
  const aether::Clock clock = aether::Clock::calibrate(std::chrono::milliseconds(5));
  clock_ = &clock;
  open();
  device_->deliver(frame_of(60, 1));
  device_->deliver(frame_of(60, 2));
  net::Packet* packets[8] = {};
  const std::uint64_t before = clock.to_ns(clock.now());
  ASSERT_EQ(queue_->rx_burst(packets), 2U);
  const std::uint64_t after = clock.to_ns(clock.now());
  EXPECT_GE(packets[0]->timestamp, before);
  EXPECT_LE(packets[0]->timestamp, after);
  EXPECT_EQ(packets[1]->timestamp, packets[0]->timestamp);  // one read per burst
  pool_->free_bulk(std::span<net::Packet* const>(packets, 2));
  queue_->release_ring_buffers();
  queue_.reset();  // before the clock goes
}

TEST_F(NetQueueTest, BadAndOversizedFramesAreCountedAndTheirBuffersReposted) {
  open();
  device_->deliver(frame_of(10, 1));                        // shorter than an Ethernet header
  device_->deliver(frame_of(60, 2), std::uint32_t{5000});   // claims more than the buffer holds
  device_->deliver(frame_of(64, 3));
  net::Packet* packets[8] = {};
  ASSERT_EQ(queue_->rx_burst(packets), 1U);
  EXPECT_EQ(packets[0]->length(), 64);
  const auto stats = queue_->stats();
  EXPECT_EQ(stats.rx_drop_bad_frame, 1U);
  EXPECT_EQ(stats.rx_drop_truncated, 1U);
  EXPECT_EQ(stats.rx_packets + stats.rx_drops(), 3U);  // every frame accounted for
  EXPECT_EQ(device_->available_index(receive_queue_index), 16 + 3);
  pool_->free_bulk(std::span<net::Packet* const>(packets, 1));
}

TEST_F(NetQueueTest, NoFreshBufferDropsTheFrameAndKeepsTheRingFull) {
  open(16, 16);  // every buffer of the pool is in the receive ring
  device_->deliver(frame_of(60, 1));
  net::Packet* packets[8] = {};
  EXPECT_EQ(queue_->rx_burst(packets), 0U);
  EXPECT_EQ(queue_->stats().rx_drop_no_buffer, 1U);
  EXPECT_EQ(device_->available_index(receive_queue_index), 16 + 1);
}

TEST_F(NetQueueTest, BurstStopsAtTheCallersSpanAndLeavesTheRestForLater) {
  open();
  for (int i = 0; i < 5; ++i) device_->deliver(frame_of(60, static_cast<std::uint8_t>(i)));
  net::Packet* packets[3] = {};
  ASSERT_EQ(queue_->rx_burst(packets), 3U);
  pool_->free_bulk(std::span<net::Packet* const>(packets, 3));
  ASSERT_EQ(queue_->rx_burst(packets), 2U);
  EXPECT_EQ(std::to_integer<int>(packets[1]->data()[0]), 4);
  pool_->free_bulk(std::span<net::Packet* const>(packets, 2));
}

TEST_F(NetQueueTest, UsedElementNamingNoBufferIsCountedAndSkipped) {
  open();
  device_->return_bogus(receive_queue_index, 999);
  net::Packet* packets[4] = {};
  EXPECT_EQ(queue_->rx_burst(packets), 0U);
  EXPECT_EQ(queue_->invalid_used_elements(), 1U);
}

TEST_F(NetQueueTest, ReceiveUsedIndexBeyondTheRingStopsTheQueueWithoutHandingOutStaleSlots) {
  open(/*size=*/16);
  device_->deliver(frame_of(60, 1));
  net::Packet* packets[64] = {};
  ASSERT_EQ(queue_->rx_burst(packets), 1U);
  pool_->free_bulk(std::span<net::Packet* const>(packets, 1));
  // 16 receive buffers outstanding; the device claims 17 more returned.
  device_->overrun_used_index(receive_queue_index, 17);
  EXPECT_EQ(queue_->rx_burst(packets), 0U);
  EXPECT_EQ(queue_->fault_status(), std::optional<int>(NetQueue::used_index_overrun_fault));
  EXPECT_TRUE(queue_->stopped());
  EXPECT_EQ(queue_->check_device(), std::optional<int>(NetQueue::used_index_overrun_fault));
}

TEST_F(NetQueueTest, TransmitUsedIndexBeyondWhatWasSentStopsTheQueue) {
  open();
  auto outgoing = frames(2, 60);
  ASSERT_EQ(queue_->tx_burst(outgoing), 2U);
  device_->overrun_used_index(transmit_queue_index, 3);  // two sent, three "returned"
  auto more = frames(1, 60);
  EXPECT_EQ(queue_->tx_burst(more), 0U);  // the caller keeps it
  EXPECT_TRUE(queue_->stopped());
  EXPECT_EQ(queue_->invalid_used_elements(), 0U);  // no stale element was read
  pool_->free_bulk(more);
}

// Teardown when the pool's IOMMU mapping could not be removed: the buffers
// the device holds are forgotten, never handed out again.
TEST_F(NetQueueTest, AbandonedRingBuffersNeverReturnToThePool) {
  open(/*size=*/16);
  auto outgoing = frames(2, 60);
  ASSERT_EQ(queue_->tx_burst(outgoing), 2U);
  EXPECT_EQ(queue_->abandon_ring_buffers(), 16U + 2U);
  queue_->release_ring_buffers();  // nothing left to release
  queue_.reset();                  // gives back only its spares, which the device never saw
  EXPECT_EQ(pool_->capacity() - pool_->available(), 16U + 2U);
  pool_.reset();  // the fixture's "nothing lost" check does not apply here
}

TEST_F(NetQueueTest, TransmitsWithAZeroedHeaderAndFreesOnTheNextBurst) {
  open();
  const std::size_t free_before = pool_->available();
  auto packets = frames(3, 60);
  ASSERT_EQ(queue_->tx_burst(packets), 3U);
  EXPECT_TRUE(device_->take_doorbell(transmit_queue_index));
  const auto sent = device_->transmit_all();
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(sent[2].size(), 60U);
  EXPECT_EQ(std::to_integer<int>(sent[2][0]), 0x42);
  EXPECT_EQ(pool_->available(), free_before - 3);  // still held until reaped
  EXPECT_EQ(queue_->tx_burst({}), 0U);             // an empty burst reaps
  EXPECT_EQ(pool_->available(), free_before);
  const auto stats = queue_->stats();
  EXPECT_EQ(stats.tx_packets, 3U);
  EXPECT_EQ(stats.tx_bytes, 180U);
}

TEST_F(NetQueueTest, FullRingTakesFewerAndTheCallerKeepsTheRest) {
  open(16);
  auto packets = frames(20, 60);
  ASSERT_EQ(queue_->tx_burst(packets), 16U);
  EXPECT_EQ(queue_->tx_burst(std::span<net::Packet*>(packets).subspan(16)), 0U);
  EXPECT_EQ(device_->transmit_all().size(), 16U);
  EXPECT_EQ(queue_->tx_burst(std::span<net::Packet*>(packets).subspan(16)), 4U);
  EXPECT_EQ(device_->transmit_all().size(), 4U);
  EXPECT_EQ(queue_->tx_burst({}), 0U);
  EXPECT_EQ(queue_->stats().tx_packets, 20U);
  EXPECT_EQ(queue_->stats().tx_drops(), 0U);
}

TEST_F(NetQueueTest, UnsendableFramesAreTakenAndCounted) {
  open();
  auto packets = frames(3, 60);
  (void)packets[0]->set_length(10);    // runt
  (void)packets[1]->set_length(1600);  // beyond MTU 1500 + 18
  packets[2]->next = frames(1, 60)[0];  // a chain: one descriptor per frame here
  EXPECT_EQ(queue_->tx_burst(packets), 3U);
  EXPECT_EQ(queue_->stats().tx_drop_bad_frame, 3U);
  EXPECT_TRUE(device_->transmit_all().empty());
}

TEST_F(NetQueueTest, PacketsOfAnotherPoolAreCopiedIntoOurs) {
  open();
  auto other = make_pool(8, "other");
  net::Packet* foreign = nullptr;
  ASSERT_EQ(other->alloc_bulk(std::span<net::Packet*>(&foreign, 1)), 1U);
  std::memset(foreign->data(), 0x77, 100);
  ASSERT_TRUE(foreign->set_length(100));
  ASSERT_EQ(queue_->tx_burst(std::span<net::Packet*>(&foreign, 1)), 1U);
  EXPECT_EQ(other->available(), other->capacity());  // the original went home
  EXPECT_EQ(queue_->tx_foreign_copies(), 1U);
  const auto sent = device_->transmit_all();         // translate() checks the IOVA is in our pool
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].size(), 100U);
  EXPECT_EQ(std::to_integer<int>(sent[0][99]), 0x77);
  EXPECT_EQ(queue_->tx_burst({}), 0U);
}

TEST_F(NetQueueTest, NoDoorbellWhileTheDeviceSaysNoNotify) {
  open();
  EXPECT_TRUE(device_->take_doorbell(receive_queue_index));
  device_->set_no_notify(transmit_queue_index, true);
  auto packets = frames(2, 60);
  ASSERT_EQ(queue_->tx_burst(std::span<net::Packet*>(packets).first(1)), 1U);
  EXPECT_FALSE(device_->take_doorbell(transmit_queue_index));
  device_->set_no_notify(transmit_queue_index, false);
  ASSERT_EQ(queue_->tx_burst(std::span<net::Packet*>(packets).subspan(1)), 1U);
  EXPECT_TRUE(device_->take_doorbell(transmit_queue_index));
  EXPECT_EQ(device_->transmit_all().size(), 2U);
  EXPECT_EQ(queue_->tx_burst({}), 0U);
}

TEST_F(NetQueueTest, PollModeKeepsInterruptsSuppressed) {
  open();
  EXPECT_EQ(queue_->rx_interrupt_fd(), -1);
  queue_->set_rx_interrupt(true);
  EXPECT_EQ(device_->available_flags(receive_queue_index), virtq_avail_f_no_interrupt);
  EXPECT_EQ(device_->available_flags(transmit_queue_index), virtq_avail_f_no_interrupt);
}

TEST_F(NetQueueTest, InterruptModeTurnsReceiveInterruptsOnAndOff) {
  constexpr int some_eventfd = 42;  // the queue hands it out; it never reads it
  open(16, 128, some_eventfd);
  EXPECT_EQ(queue_->rx_interrupt_fd(), some_eventfd);
  EXPECT_EQ(device_->available_flags(receive_queue_index), virtq_avail_f_no_interrupt);  // busy until idle
  queue_->set_rx_interrupt(true);
  EXPECT_EQ(device_->available_flags(receive_queue_index), 0);
  queue_->set_rx_interrupt(false);
  EXPECT_EQ(device_->available_flags(receive_queue_index), virtq_avail_f_no_interrupt);
  EXPECT_EQ(device_->available_flags(transmit_queue_index), virtq_avail_f_no_interrupt);
}

TEST_F(NetQueueTest, DeviceResetUnderneathStopsTheQueueAfterIdleBursts) {
  open();
  device_->set_status(0);  // reset by someone else: it no longer reads our rings
  net::Packet* packets[4] = {};
  for (std::uint32_t i = 0; i < NetQueue::fault_check_interval; ++i) EXPECT_EQ(queue_->rx_burst(packets), 0U);
  ASSERT_TRUE(queue_->fault_status().has_value());
  EXPECT_EQ(*queue_->fault_status(), 0);
  // Stopped: nothing is taken, the rings are not touched.
  device_->deliver(frame_of(60, 1));
  EXPECT_EQ(queue_->rx_burst(packets), 0U);
  auto outgoing = frames(1, 60);
  EXPECT_EQ(queue_->tx_burst(outgoing), 0U);
  pool_->free_bulk(outgoing);
}

TEST_F(NetQueueTest, NeedsResetAndAllOnesAreFaultsButARunningDeviceIsNot) {
  open();
  EXPECT_FALSE(queue_->check_device().has_value());
  device_->set_status(running | device_status::device_needs_reset);
  EXPECT_EQ(queue_->check_device(), std::optional<int>(running | device_status::device_needs_reset));
  EXPECT_TRUE(queue_->stopped());
  EXPECT_TRUE(NetQueue::is_fault(0xff));
  EXPECT_TRUE(NetQueue::is_fault(running & ~device_status::driver_ok));
  EXPECT_FALSE(NetQueue::is_fault(running));
}

}  // namespace
}  // namespace aether::drivers::virtio_net
