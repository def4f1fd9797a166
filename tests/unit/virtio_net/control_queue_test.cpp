// The control virtqueue (control_queue.hpp) and the receive mode on it
// (receive_mode.hpp), with memory playing the device between submit and
// await_answer.
#include "aether/drivers/virtio_net/control_queue.hpp"

#include "aether/drivers/virtio_net/receive_mode.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace aether::drivers::virtio_net {
namespace {

constexpr std::uint64_t ring_iova = 0x40000000;
constexpr std::uint64_t command_iova = 0x40010000;

class ControlQueueTest : public ::testing::Test {
 protected:
  // The device's side: the command chain at the head of the last published
  // entry, as bytes; then it answers `ack` through the used ring.
  std::vector<std::byte> take_command(std::uint8_t ack) {
    const auto layout = layout_for(ControlQueue::queue_size);
    std::uint16_t available[3];
    std::memcpy(available, ring_.data() + layout.available, sizeof(available));
    EXPECT_EQ(available[1], ++published_);  // avail->idx
    const std::uint16_t head = available[2 + ((published_ - 1) & (ControlQueue::queue_size - 1))];
    VirtqDesc request{}, response{};
    std::memcpy(&request, ring_.data() + layout.descriptors + head * sizeof(VirtqDesc), sizeof(request));
    EXPECT_EQ(request.flags, virtq_desc_f_next);
    std::memcpy(&response, ring_.data() + layout.descriptors + request.next * sizeof(VirtqDesc), sizeof(response));
    EXPECT_EQ(response.flags, virtq_desc_f_write);
    EXPECT_EQ(response.len, 1U);
    EXPECT_EQ(response.addr, request.addr + request.len);  // the ack right after the request
    std::vector<std::byte> bytes(command_.data() + (request.addr - command_iova),
                                 command_.data() + (request.addr - command_iova) + request.len);
    command_[response.addr - command_iova] = std::byte{ack};
    const VirtqUsedElem used{head, 1};
    std::memcpy(ring_.data() + layout.used + 4 + ((published_ - 1) & (ControlQueue::queue_size - 1)) * sizeof(used),
                &used, sizeof(used));
    std::memcpy(ring_.data() + layout.used + 2, &published_, sizeof(published_));
    return bytes;
  }

  std::vector<std::byte> ring_ = std::vector<std::byte>(layout_for(ControlQueue::queue_size).total);
  std::vector<std::byte> command_ = std::vector<std::byte>(ControlQueue::command_bytes);
  std::uint16_t doorbell_ = 0;
  std::uint16_t published_ = 0;
  ControlQueue queue_{ring_.data(),
                      ring_iova,
                      command_.data(),
                      command_iova,
                      reinterpret_cast<volatile std::byte*>(&doorbell_),
                      2,
                      "0000:00:03.0"};
};

TEST_F(ControlQueueTest, PromiscuousCommandIsClassCommandDataThenAck) {
  const std::byte on{1};
  ASSERT_TRUE(queue_.submit(control::class_rx, control::rx_promisc, std::span<const std::byte>(&on, 1)).ok());
  EXPECT_EQ(doorbell_, 2U);  // the queue index to the notification address
  const auto bytes = take_command(control::ack_ok);
  ASSERT_EQ(bytes.size(), 3U);
  EXPECT_EQ(bytes[0], std::byte{control::class_rx});
  EXPECT_EQ(bytes[1], std::byte{control::rx_promisc});
  EXPECT_EQ(bytes[2], std::byte{1});
  auto answered = queue_.await_answer(std::chrono::milliseconds(100));
  EXPECT_TRUE(answered.ok()) << answered.error().describe();
}

TEST_F(ControlQueueTest, RefusalAndSilenceAreErrorsNamingTheCommand) {
  ASSERT_TRUE(queue_.submit(control::class_mac, control::mac_table_set, {}).ok());
  (void)take_command(1);  // VIRTIO_NET_ERR
  auto refused = queue_.await_answer(std::chrono::milliseconds(100));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("refused control command 1.0"), std::string::npos)
      << refused.error().message;
  ASSERT_TRUE(queue_.submit(control::class_rx, control::rx_promisc, {}).ok());
  auto silent = queue_.await_answer(std::chrono::milliseconds(5));  // the device never answers
  ASSERT_FALSE(silent.ok());
  EXPECT_EQ(silent.error().code, std::make_error_code(std::errc::timed_out));
  EXPECT_NE(silent.error().message.find("0000:00:03.0: no answer to control command 0.0"), std::string::npos)
      << silent.error().message;
}

// What ReceiveMode refuses before anything reaches the device (the
// commands themselves are the ControlQueue tests' and the guest's).
TEST_F(ControlQueueTest, ReceiveModeRefusesNonGroupsAndGroupsNotJoined) {
  ReceiveMode mode(queue_);
  in_addr unicast{};
  ASSERT_EQ(inet_pton(AF_INET, "10.1.2.3", &unicast), 1);
  auto joined = mode.join(unicast.s_addr, "0000:00:03.0");
  ASSERT_FALSE(joined.ok());
  EXPECT_NE(joined.error().message.find("10.1.2.3 is not an IPv4 multicast group"), std::string::npos);
  in_addr group{};
  ASSERT_EQ(inet_pton(AF_INET, "239.1.1.1", &group), 1);
  auto left = mode.leave(group.s_addr, "0000:00:03.0");
  ASSERT_FALSE(left.ok());
  EXPECT_NE(left.error().message.find("239.1.1.1 was not joined"), std::string::npos);
  EXPECT_EQ(doorbell_, 0U);  // nothing was sent
}

TEST(MacTablePayload, EmptyUnicastTableThenTheMulticastMacs) {
  const std::vector<net::MacAddress> macs{{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}, {0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}};
  const auto payload = mac_table_payload(macs);
  ASSERT_EQ(payload.size(), 4U + 4U + 12U);
  std::uint32_t unicast = 1, multicast = 0;
  std::memcpy(&unicast, payload.data(), 4);
  std::memcpy(&multicast, payload.data() + 4, 4);
  EXPECT_EQ(unicast, 0U);
  EXPECT_EQ(multicast, 2U);
  EXPECT_EQ(payload[8 + 5], std::byte{0xfb});
  EXPECT_EQ(payload[14 + 3], std::byte{0x01});
}

}  // namespace
}  // namespace aether::drivers::virtio_net
