// The 82574 legacy queue's ring logic and accounting, without a device: BAR 0
// is ordinary memory (a register reads back what was written, MPC is what
// the test puts there) and the test plays the device's DMA side, writing
// frames into posted buffers and setting DD. The real device runs in the
// guest test (tests/guest/vfio_guest_test.cpp).
#include "aether/drivers/e1000e/legacy_queue.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "aether/drivers/e1000e/device_health.hpp"
#include "aether/drivers/e1000e/registers.hpp"
#include "aether/mem/mempool.hpp"

namespace aether::drivers::e1000e {
namespace {

constexpr std::uint64_t test_pool_iova = 1ULL << 32;
constexpr std::uint64_t test_ring_iova = 1ULL << 30;

// cache_size 0 by default: the queue's MempoolCache then passes every
// call through to the pool, so available() counts exactly what the tests
// expect; CachedBuffersAllComeHome runs with a real cache.
std::unique_ptr<mem::Mempool> make_pool(std::uint32_t count, const char* name, std::size_t cache_size = 0) {
  mem::MempoolConfig config;
  config.count = count;
  config.cache_size = cache_size;
  config.name = name;
  config.region.use_hugepages = false;
  auto pool = mem::Mempool::create(config);
  EXPECT_TRUE(pool.ok()) << pool.error().describe();
  return std::move(*pool);
}

class LegacyQueueTest : public ::testing::Test {
 protected:
  static constexpr std::uint16_t size = 8;

  void SetUp() override {
    pool_ = make_pool(64, "e1000e-test");
    start_queue();
  }

  void start_queue(int interrupt_fd = -1) {
    RingMemory rings;
    rings.rx_ring = rx_ring_.data();
    rings.rx_ring_iova = test_ring_iova;
    rings.tx_ring = tx_ring_.data();
    rings.tx_ring_iova = test_ring_iova + 4096;
    QueueConfig config;
    config.size = size;
    config.port_id = 7;
    config.pool_iova = test_pool_iova;
    config.device_name = "0000:00:04.0";
    config.interrupt_fd = interrupt_fd;
    config.clock = clock_;
    auto queue = LegacyQueue::start(bar0(), rings, *pool_, config, health_);
    ASSERT_TRUE(queue.ok()) << queue.error().describe();
    queue_ = std::move(*queue);
  }

  volatile std::byte* bar0() { return reinterpret_cast<volatile std::byte*>(registers_.get()); }
  std::uint32_t& reg32(std::size_t offset) { return registers_[offset / 4]; }

  // The device's side: translate a descriptor's buffer address back to
  // memory, as the IOMMU would.
  std::byte* buffer_of(std::uint64_t iova) { return pool_->region().base() + (iova - test_pool_iova); }

  // The device receives `frame` into descriptor `slot`.
  void deliver(std::uint32_t slot, std::span<const std::byte> frame, std::uint8_t status = 0x03,
               std::uint8_t errors = 0) {
    LegacyRxDesc& descriptor = rx_ring_[slot];
    std::memcpy(buffer_of(descriptor.buffer_addr), frame.data(), frame.size());
    descriptor.length = static_cast<std::uint16_t>(frame.size());
    descriptor.errors = errors;
    descriptor.status = status;  // DD (| EOP), written last as the device does
  }

  // Runs idle bursts until the next idle one is the one that looks at the device.
  void advance_to_health_check() {
    std::array<net::Packet*, 1> none{};
    for (unsigned i = 0; i + 1 < LegacyQueue::kIdleBurstsPerHealthCheck; ++i) {
      (void)queue_->rx_burst(std::span(none.data(), 0));
    }
  }

  std::vector<std::byte> frame(std::size_t length, std::uint8_t fill) { return std::vector<std::byte>(length, std::byte{fill}); }

  net::Packet* alloc(std::uint16_t length, std::uint8_t fill, mem::Mempool& pool) {
    net::Packet* packet = nullptr;
    EXPECT_EQ(pool.alloc_bulk(std::span(&packet, 1)), 1U);
    std::memset(packet->data(), fill, length);
    EXPECT_TRUE(packet->set_length(length));
    return packet;
  }

  // 128 KiB like the real BAR 0, zero at start.
  std::unique_ptr<std::uint32_t[]> registers_{new std::uint32_t[0x20000 / 4]()};
  alignas(128) std::array<LegacyRxDesc, size> rx_ring_{};
  alignas(128) std::array<LegacyTxDesc, size> tx_ring_{};
  std::unique_ptr<mem::Mempool> pool_;
  DeviceHealth health_{bar0(), "0000:00:04.0"};
  std::unique_ptr<LegacyQueue> queue_;
  const aether::Clock* clock_ = nullptr;  // rx timestamps when set
};

TEST_F(LegacyQueueTest, StartPostsEveryReceiveDescriptorAndEnablesBothDirections) {
  EXPECT_EQ(pool_->available(), 64U - size);
  EXPECT_EQ(reg32(reg::rdlen), size * 16U);
  EXPECT_EQ(reg32(reg::rdbal), static_cast<std::uint32_t>(test_ring_iova));
  EXPECT_EQ(reg32(reg::tdbal), static_cast<std::uint32_t>(test_ring_iova + 4096));
  EXPECT_EQ(reg32(reg::rdt), size - 1U);  // the last descriptor is the gap
  EXPECT_EQ(reg32(reg::tdt), 0U);
  EXPECT_EQ(reg32(reg::rctl), rctl::enable | rctl::broadcast_accept | rctl::strip_crc);
  EXPECT_NE(reg32(reg::tctl) & tctl::enable, 0U);
  for (const LegacyRxDesc& descriptor : rx_ring_) {
    // The frame lands at data(): buffer start + 64 bytes of metadata + headroom.
    const std::uint64_t offset = descriptor.buffer_addr - test_pool_iova;
    EXPECT_EQ((offset - sizeof(mem::Packet) - pool_->headroom()) % pool_->buffer_stride(), 0U);
    EXPECT_EQ(descriptor.status, 0);
  }
}

TEST_F(LegacyQueueTest, ReceivesFramesAtDataAndMovesTheTail) {
  const auto a = frame(60, 0xa1);
  const auto b = frame(1514, 0xb2);
  const std::uint64_t first_buffer = rx_ring_[0].buffer_addr;
  deliver(0, a);
  deliver(1, b);
  std::array<net::Packet*, 32> received{};
  ASSERT_EQ(queue_->rx_burst(received), 2U);
  EXPECT_EQ(received[0]->length(), 60);
  EXPECT_EQ(received[0]->packet_length, 60U);
  EXPECT_EQ(received[0]->port, 7);
  EXPECT_EQ(std::memcmp(received[0]->data(), a.data(), a.size()), 0);
  EXPECT_EQ(received[1]->length(), 1514);
  EXPECT_EQ(std::memcmp(received[1]->data(), b.data(), b.size()), 0);
  // Both slots hold fresh buffers again, DD cleared; RDT one behind the next.
  EXPECT_NE(rx_ring_[0].buffer_addr, first_buffer);
  EXPECT_EQ(rx_ring_[0].status, 0);
  EXPECT_EQ(reg32(reg::rdt), 1U);
  EXPECT_EQ(queue_->rx_burst(received), 0U);
  const auto stats = queue_->stats();
  EXPECT_EQ(stats.rx_packets, 2U);
  EXPECT_EQ(stats.rx_bytes, 60U + 1514U);
  EXPECT_EQ(stats.rx_drops(), 0U);
  EXPECT_EQ(received[0]->timestamp, 0U);  // no clock given: no timestamps
  pool_->free_bulk(std::span(received.data(), 2));
}

TEST_F(LegacyQueueTest, ReceivedFramesCarryThePollTimeOfTheirBurst) {
  static const aether::Clock clock = aether::Clock::calibrate(std::chrono::milliseconds(5));
  queue_.reset();  // a queue with the clock, on the same rings
  pool_ = make_pool(64, "e1000e-clock-test");
  clock_ = &clock;
  start_queue();
  deliver(0, frame(60, 1));
  deliver(1, frame(60, 2));
  std::array<net::Packet*, 8> received{};
  const std::uint64_t before = clock.to_ns(clock.now());
  ASSERT_EQ(queue_->rx_burst(received), 2U);
  const std::uint64_t after = clock.to_ns(clock.now());
  EXPECT_GE(received[0]->timestamp, before);
  EXPECT_LE(received[0]->timestamp, after);
  EXPECT_EQ(received[1]->timestamp, received[0]->timestamp);  // one read per burst
  pool_->free_bulk(std::span(received.data(), 2));
}

TEST_F(LegacyQueueTest, WrapsAroundTheRing) {
  std::array<net::Packet*, 4> received{};
  std::uint32_t slot = 0;
  for (unsigned round = 0; round < 3 * size; ++round) {
    deliver(slot, frame(64, static_cast<std::uint8_t>(round)));
    ASSERT_EQ(queue_->rx_burst(received), 1U) << "round " << round;
    EXPECT_EQ(static_cast<std::uint8_t>(received[0]->data()[0]), static_cast<std::uint8_t>(round));
    pool_->free_bulk(std::span(received.data(), 1));
    EXPECT_EQ(reg32(reg::rdt), slot);
    slot = (slot + 1) % size;
  }
  EXPECT_EQ(queue_->stats().rx_packets, 3U * size);
}

TEST_F(LegacyQueueTest, BadAndSplitFramesAreCountedAndTheirBuffersReposted) {
  const std::uint64_t buffers[3] = {rx_ring_[0].buffer_addr, rx_ring_[1].buffer_addr, rx_ring_[2].buffer_addr};
  deliver(0, frame(60, 1), 0x03, 0x01);  // CRC error
  deliver(1, frame(2048, 2), 0x01);      // DD without EOP: the frame goes on...
  deliver(2, frame(100, 3), 0x03);       // ...and ends here
  deliver(3, frame(60, 4));              // a good one after them
  std::array<net::Packet*, 8> received{};
  ASSERT_EQ(queue_->rx_burst(received), 1U);
  EXPECT_EQ(static_cast<std::uint8_t>(received[0]->data()[0]), 4);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rx_ring_[i].buffer_addr, buffers[i]) << "slot " << i;
  const auto stats = queue_->stats();
  EXPECT_EQ(stats.rx_drop_bad_frame, 1U);
  EXPECT_EQ(stats.rx_drop_truncated, 1U);  // one frame, two descriptors
  EXPECT_EQ(stats.rx_packets, 1U);
  pool_->free_bulk(std::span(received.data(), 1));
}

TEST_F(LegacyQueueTest, EmptyPoolDropsTheFrameAndKeepsTheRingFull) {
  std::vector<net::Packet*> hoard(pool_->available());
  ASSERT_EQ(pool_->alloc_bulk(hoard), hoard.size());
  const std::uint64_t buffer = rx_ring_[0].buffer_addr;
  deliver(0, frame(60, 9));
  std::array<net::Packet*, 8> received{};
  EXPECT_EQ(queue_->rx_burst(received), 0U);
  EXPECT_EQ(queue_->stats().rx_drop_no_buffer, 1U);
  EXPECT_EQ(rx_ring_[0].buffer_addr, buffer);
  EXPECT_EQ(rx_ring_[0].status, 0);
  EXPECT_EQ(reg32(reg::rdt), 0U);  // posted again
  pool_->free_bulk(hoard);
}

TEST_F(LegacyQueueTest, TransmitsOneDescriptorPerPacketAndReapsWholeBatches) {
  std::array<net::Packet*, 3> packets{alloc(60, 1, *pool_), alloc(1514, 2, *pool_), alloc(42, 3, *pool_)};
  const std::size_t available = pool_->available();
  ASSERT_EQ(queue_->tx_burst(packets), 3U);
  EXPECT_EQ(reg32(reg::tdt), 3U);
  EXPECT_EQ(tx_ring_[1].length, 1514);
  EXPECT_EQ(tx_ring_[1].command, tx_command_eop | tx_command_insert_fcs | tx_command_report_status);
  EXPECT_EQ(std::memcmp(buffer_of(tx_ring_[1].buffer_addr), packets[1]->data(), 1514), 0);
  EXPECT_EQ(queue_->tx_in_flight(), 3U);
  // The device finishes the first two: less than a batch in flight, and
  // the last one sent is not done, so nothing is read back yet.
  ASSERT_EQ(queue_->clean_batch(), size / 2U);
  tx_ring_[0].status = descriptor_done;
  tx_ring_[1].status = descriptor_done;
  EXPECT_EQ(queue_->tx_burst({}), 0U);
  EXPECT_EQ(queue_->tx_in_flight(), 3U);
  // The third is done too: an empty burst gives all three back at once.
  tx_ring_[2].status = descriptor_done;
  EXPECT_EQ(queue_->tx_burst({}), 0U);
  EXPECT_EQ(queue_->tx_in_flight(), 0U);
  EXPECT_EQ(pool_->available(), available + 3);
  const auto stats = queue_->stats();
  EXPECT_EQ(stats.tx_packets, 3U);
  EXPECT_EQ(stats.tx_bytes, 60U + 1514U + 42U);
}

TEST_F(LegacyQueueTest, FullRingTakesFewer) {
  std::array<net::Packet*, size> packets{};
  for (auto& packet : packets) packet = alloc(60, 5, *pool_);
  EXPECT_EQ(queue_->tx_burst(packets), size - 1U);  // one slot always free: TDH == TDT means empty
  EXPECT_EQ(queue_->tx_burst(std::span(packets).subspan(size - 1)), 0U);
  // One done descriptor is not a batch: the ring stays full.
  tx_ring_[0].status = descriptor_done;
  EXPECT_EQ(queue_->tx_burst(std::span(packets).subspan(size - 1)), 0U);
  // The first batch (size / 2) done, as a device completes in order.
  for (unsigned slot = 1; slot < size / 2; ++slot) tx_ring_[slot].status = descriptor_done;
  EXPECT_EQ(queue_->tx_burst(std::span(packets).subspan(size - 1)), 1U);
  EXPECT_EQ(queue_->tx_in_flight(), size - 1U - size / 2U + 1U);
  EXPECT_EQ(reg32(reg::tdt), 0U);  // wrapped
  EXPECT_EQ(queue_->stats().tx_drops(), 0U);
}

TEST_F(LegacyQueueTest, UnsendablePacketsAreTakenAndCounted) {
  net::Packet* empty = alloc(0, 0, *pool_);
  net::Packet* jumbo = alloc(1519, 0, *pool_);
  net::Packet* chained = alloc(60, 0, *pool_);
  chained->next = alloc(60, 0, *pool_);
  const std::size_t available = pool_->available();
  std::array<net::Packet*, 3> packets{empty, jumbo, chained};
  EXPECT_EQ(queue_->tx_burst(packets), 3U);
  EXPECT_EQ(queue_->stats().tx_drop_bad_frame, 3U);
  EXPECT_EQ(queue_->stats().tx_packets, 0U);
  EXPECT_EQ(pool_->available(), available + 4);  // the chain's two segments too
  EXPECT_EQ(reg32(reg::tdt), 0U);
}

TEST_F(LegacyQueueTest, PacketsOfAnotherPoolAreCopiedIntoMappedMemory) {
  auto other = make_pool(8, "other");
  net::Packet* foreign = alloc(100, 0x5a, *other);
  std::array<net::Packet*, 1> packets{foreign};
  ASSERT_EQ(queue_->tx_burst(packets), 1U);
  EXPECT_EQ(other->available(), other->capacity());  // the original went home
  EXPECT_EQ(queue_->tx_foreign_copies(), 1U);
  const std::uint64_t address = tx_ring_[0].buffer_addr;
  ASSERT_TRUE(address >= test_pool_iova && address < test_pool_iova + pool_->region().length());
  EXPECT_EQ(static_cast<std::uint8_t>(buffer_of(address)[99]), 0x5a);
}

TEST_F(LegacyQueueTest, MissedPacketCounterIsReadIntoKernelDrops) {
  reg32(reg::missed_packets) = 5;
  advance_to_health_check();
  EXPECT_EQ(queue_->stats().rx_drop_kernel, 0U);
  std::array<net::Packet*, 1> none{};
  (void)queue_->rx_burst(std::span(none.data(), 0));
  EXPECT_EQ(queue_->stats().rx_drop_kernel, 5U);
}

TEST_F(LegacyQueueTest, ResetUnderneathStopsTheRingsAndIsReported) {
  // Someone resets the device: registers back to their defaults, and no
  // more frames arrive, so the queue goes idle and its idle check looks.
  reg32(reg::rctl) = 0;
  reg32(reg::tctl) = 0;
  advance_to_health_check();
  std::array<net::Packet*, 8> received{};
  EXPECT_EQ(queue_->rx_burst(received), 0U);
  ASSERT_TRUE(health_.faulted());
  // From now on the rings are not touched, whatever they hold.
  deliver(0, frame(60, 1));
  EXPECT_EQ(queue_->rx_burst(received), 0U);
  const std::uint32_t tail = reg32(reg::rdt);
  std::array<net::Packet*, 1> packets{alloc(60, 1, *pool_)};
  EXPECT_EQ(queue_->tx_burst(packets), 0U);  // still the caller's
  EXPECT_EQ(reg32(reg::rdt), tail);
  EXPECT_EQ(reg32(reg::tdt), 0U);
  ASSERT_TRUE(health_.faulted());
  EXPECT_EQ(health_.fault(), DeviceFault::receive_disabled);
  const auto message = health_.describe();
  ASSERT_TRUE(message.has_value());
  EXPECT_NE(message->find("RCTL.EN found cleared"), std::string::npos) << *message;
  EXPECT_NE(message->find("/sys/bus/pci/devices/0000:00:04.0/reset"), std::string::npos) << *message;
  pool_->free_bulk(packets);
}

TEST_F(LegacyQueueTest, AllOnesMeansTheDeviceIsGone) {
  reg32(reg::rctl) = 0xffffffff;
  EXPECT_TRUE(health_.check());
  EXPECT_EQ(health_.fault(), DeviceFault::not_responding);
  // The first fault stays: a later, different sign does not replace it.
  reg32(reg::rctl) = 0;
  EXPECT_TRUE(health_.check());
  EXPECT_EQ(health_.fault(), DeviceFault::not_responding);
  EXPECT_NE(health_.describe()->find("all ones"), std::string::npos);
  std::array<net::Packet*, 8> received{};
  deliver(0, frame(60, 1));
  EXPECT_EQ(queue_->rx_burst(received), 0U);
}

TEST_F(LegacyQueueTest, PollModeHasNoInterrupt) {
  EXPECT_EQ(queue_->rx_interrupt_fd(), -1);
  queue_->set_rx_interrupt(true);
  EXPECT_EQ(reg32(reg::ims), 0U);
  EXPECT_EQ(reg32(reg::interrupt_vector_allocation), 0U);
}

TEST_F(LegacyQueueTest, InterruptModeRoutesReceiveQueueZeroToVectorZero) {
  queue_.reset();  // a second queue on the same rings, in interrupt mode
  pool_ = make_pool(64, "e1000e-interrupt-test");
  start_queue(42);
  EXPECT_EQ(queue_->rx_interrupt_fd(), 42);
  EXPECT_EQ(reg32(reg::interrupt_vector_allocation), interrupt::ivar_valid);  // RXQ0 -> vector 0
  EXPECT_EQ(reg32(reg::interrupt_auto_clear), interrupt::receive_queue0);
  EXPECT_EQ(reg32(reg::ims), 0U);  // masked until the worker asks
  queue_->set_rx_interrupt(true);
  EXPECT_EQ(reg32(reg::ims), interrupt::receive_queue0);
  EXPECT_EQ(reg32(reg::icr), interrupt::receive_queue0);  // stale cause cleared (write 1 to clear)
  queue_->set_rx_interrupt(false);
  EXPECT_EQ(reg32(reg::imc), interrupt::receive_queue0);
}

// Every burst allocates and frees through the queue's MempoolCache; laps of
// both rings (batches across the wrap included) with a caching pool leave
// every buffer accounted for once the queue and its cache are gone.
TEST_F(LegacyQueueTest, CachedBuffersAllComeHome) {
  queue_.reset();
  pool_ = make_pool(64, "e1000e-cache-test", 16);
  start_queue(-1);
  std::uint32_t rx_slot = 0;
  for (unsigned round = 0; round < 5 * size; ++round) {
    deliver(rx_slot, frame(60, static_cast<std::uint8_t>(round)));
    rx_slot = (rx_slot + 1) % size;
    std::array<net::Packet*, 4> received{};
    ASSERT_EQ(queue_->rx_burst(received), 1U) << round;
    // Sent back out; the device completes everything sent so far.
    ASSERT_EQ(queue_->tx_burst(std::span(received.data(), 1)), 1U) << round;
    for (auto& descriptor : tx_ring_) descriptor.status = descriptor_done;
  }
  EXPECT_EQ(queue_->stats().tx_packets, 5U * size);
  EXPECT_LT(queue_->tx_in_flight(), queue_->clean_batch());
  queue_.reset();
  EXPECT_EQ(pool_->available(), pool_->capacity());
}

TEST_F(LegacyQueueTest, DestructionReturnsEveryBuffer) {
  std::array<net::Packet*, 2> packets{alloc(60, 1, *pool_), alloc(60, 2, *pool_)};
  ASSERT_EQ(queue_->tx_burst(packets), 2U);
  queue_.reset();
  EXPECT_EQ(pool_->available(), pool_->capacity());
}

// Teardown when the pool's IOMMU mapping could not be removed: the buffers
// the device holds must not go back to the pool, even when the queue goes.
TEST_F(LegacyQueueTest, AbandonedBuffersNeverReturnToThePool) {
  std::array<net::Packet*, 2> packets{alloc(60, 1, *pool_), alloc(60, 2, *pool_)};
  ASSERT_EQ(queue_->tx_burst(packets), 2U);
  const std::size_t available = pool_->available();
  EXPECT_EQ(queue_->abandon_ring_buffers(), size + 2U);  // every receive slot, two in flight
  queue_.reset();
  EXPECT_EQ(pool_->available(), available);
  EXPECT_EQ(pool_->capacity() - pool_->available(), size + 2U);
}

TEST(LegacyQueueStart, RefusesBadSizesAndSmallPools) {
  for (std::uint16_t bad : {0, 4, 12, 100, 8192}) {
    auto result = LegacyQueue::validate_size(bad, "0000:00:04.0");
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_NE(result.error().message.find("0000:00:04.0"), std::string::npos);
  }
  EXPECT_TRUE(LegacyQueue::validate_size(256, "dev").ok());

  auto pool = make_pool(16, "small");
  std::unique_ptr<std::uint32_t[]> registers(new std::uint32_t[0x20000 / 4]());
  auto* bar0 = reinterpret_cast<volatile std::byte*>(registers.get());
  std::vector<LegacyRxDesc> rx(32);
  std::vector<LegacyTxDesc> tx(32);
  DeviceHealth health(bar0, "0000:00:04.0");
  QueueConfig config;
  config.size = 32;
  config.device_name = "0000:00:04.0";
  auto queue = LegacyQueue::start(bar0, RingMemory{rx.data(), 0, tx.data(), 0}, *pool, config, health);
  ASSERT_FALSE(queue.ok());
  EXPECT_NE(queue.error().message.find("pool 'small' has 16 free buffers; the receive ring needs 32"), std::string::npos)
      << queue.error().message;
  EXPECT_EQ(registers[reg::rctl / 4], 0U);  // nothing enabled
}

}  // namespace
}  // namespace aether::drivers::e1000e
