// ControlQueue: virtio-net's control virtqueue (virtio 1.2, 5.1.6.5),
// driven from the control path, one command at a time: the class, command
// and data in one device-readable descriptor, the ack byte in a
// device-writable one after it (2.7.4), a doorbell, then a wait for the
// used element and the ack. Only with VIRTIO_NET_F_CTRL_VQ; the RX mode and
// MAC table commands also need VIRTIO_NET_F_CTRL_RX.
//
// Threading: one caller at a time (the port serialises); the data path
// never touches this queue.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/drivers/virtio_net/split_queue.hpp"
#include "aether/net/frame.hpp"

namespace aether::drivers::virtio_net {

namespace control {
inline constexpr std::uint8_t class_rx = 0;       // VIRTIO_NET_CTRL_RX (5.1.6.5.1)
inline constexpr std::uint8_t rx_promisc = 0;     // data: u8 on/off
inline constexpr std::uint8_t rx_allmulti = 1;
inline constexpr std::uint8_t class_mac = 1;      // VIRTIO_NET_CTRL_MAC (5.1.6.5.2)
inline constexpr std::uint8_t mac_table_set = 0;  // data: unicast table, then multicast table
inline constexpr std::uint8_t ack_ok = 0;         // VIRTIO_NET_OK; VIRTIO_NET_ERR is 1
}  // namespace control

// The MAC_TABLE_SET data: struct virtio_net_ctrl_mac { le32 entries; u8
// macs[entries][6]; } twice, unicast (empty: the device's own MAC is
// always accepted) then multicast.
[[nodiscard]] std::vector<std::byte> mac_table_payload(std::span<const net::MacAddress> multicast);

class ControlQueue {
 public:
  // Descriptors of the queue (a command takes two, slots 0 and 1).
  static constexpr std::uint16_t queue_size = 16;
  // Command memory: header, data and ack of one command.
  static constexpr std::size_t command_bytes = 4096;

  // `ring_memory`: layout_for(queue_size).total zeroed bytes mapped at
  // ring_iova; `command_memory`: command_bytes mapped at command_iova;
  // `doorbell`: the queue's notification address. All outlive the queue.
  ControlQueue(std::byte* ring_memory, std::uint64_t ring_iova, std::byte* command_memory,
               std::uint64_t command_iova, volatile std::byte* doorbell, std::uint16_t queue_index,
               std::string device_name) noexcept;

  [[nodiscard]] const SplitQueue& ring() const noexcept { return ring_; }

  // Sends one command and waits up to `timeout` for the device's answer.
  // Errors name the device and the command: data longer than the command
  // memory, no answer in time, an ack other than VIRTIO_NET_OK.
  [[nodiscard]] Result<void> send(std::uint8_t command_class, std::uint8_t command, std::span<const std::byte> data,
                                  std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

  // send() in its two phases (tests play the device in between): submit
  // writes and publishes the command and rings the doorbell; await_answer
  // polls the used ring (sleeping 50 us between looks) and checks the ack.
  [[nodiscard]] Result<void> submit(std::uint8_t command_class, std::uint8_t command, std::span<const std::byte> data);
  [[nodiscard]] Result<void> await_answer(std::chrono::milliseconds timeout);

 private:
  SplitQueue ring_;
  std::byte* command_;
  std::uint64_t command_iova_;
  volatile std::byte* doorbell_;
  std::uint16_t queue_index_;
  std::string device_name_;
  // The command submitted last, for await_answer and its messages.
  std::uint8_t class_ = 0;
  std::uint8_t command_code_ = 0;
  std::size_t ack_offset_ = 0;
};

}  // namespace aether::drivers::virtio_net
