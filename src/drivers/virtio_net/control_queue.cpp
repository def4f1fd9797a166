// The control virtqueue's commands (control_queue.hpp; virtio 1.2, 5.1.6.5).
#include "aether/drivers/virtio_net/control_queue.hpp"

#include <fmt/format.h>

#include <cstring>
#include <thread>

#include "aether/drivers/mmio.hpp"

namespace aether::drivers::virtio_net {

std::vector<std::byte> mac_table_payload(std::span<const net::MacAddress> multicast) {
  // le32 counts: x86 is little-endian, as virtio 1.x is (2.4).
  std::vector<std::byte> payload(4 + 4 + multicast.size() * 6);
  const std::uint32_t unicast_entries = 0;
  const auto multicast_entries = static_cast<std::uint32_t>(multicast.size());
  std::memcpy(payload.data(), &unicast_entries, 4);
  std::memcpy(payload.data() + 4, &multicast_entries, 4);
  for (std::size_t i = 0; i < multicast.size(); ++i) std::memcpy(payload.data() + 8 + 6 * i, multicast[i].data(), 6);
  return payload;
}

ControlQueue::ControlQueue(std::byte* ring_memory, std::uint64_t ring_iova, std::byte* command_memory,
                           std::uint64_t command_iova, volatile std::byte* doorbell, std::uint16_t queue_index,
                           std::string device_name) noexcept
    : ring_(ring_memory, ring_iova, queue_size),
      command_(command_memory),
      command_iova_(command_iova),
      doorbell_(doorbell),
      queue_index_(queue_index),
      device_name_(std::move(device_name)) {}

Result<void> ControlQueue::send(std::uint8_t command_class, std::uint8_t command, std::span<const std::byte> data,
                                std::chrono::milliseconds timeout) {
  if (auto submitted = submit(command_class, command, data); !submitted) return submitted;
  return await_answer(timeout);
}

Result<void> ControlQueue::submit(std::uint8_t command_class, std::uint8_t command, std::span<const std::byte> data) {
  // Layout in the command memory: class, command, data, then the ack byte.
  const std::size_t request_length = 2 + data.size();
  if (request_length + 1 > command_bytes) {
    return invalid_argument(fmt::format("{}: control command {}.{} carries {} bytes; at most {} fit", device_name_,
                                        command_class, command, data.size(), command_bytes - 3));
  }
  command_[0] = std::byte{command_class};
  command_[1] = std::byte{command};
  if (!data.empty()) std::memcpy(command_ + 2, data.data(), data.size());
  class_ = command_class;
  command_code_ = command;
  ack_offset_ = request_length;
  volatile std::byte* ack = command_ + request_length;
  *ack = std::byte{0xff};  // not an ack value: the device must overwrite it
  ring_.add_request_response(0, command_iova_, static_cast<std::uint32_t>(request_length),
                             command_iova_ + request_length, 1);
  ring_.publish();
  // 4.1.5.2: the queue index to the notification address, whatever
  // VIRTQ_USED_F_NO_NOTIFY says (a command is rare; the device must see it).
  mmio::write16(doorbell_, 0, queue_index_);
  return {};
}

Result<void> ControlQueue::await_answer(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (ring_.peek_used() == 0) {
    if (ring_.used_index_overrun()) {
      return invalid_argument(fmt::format("{}: the control queue's used index ran past the one command it was given "
                                          "(virtio 1.2, 2.7.8)",
                                          device_name_));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Error{std::make_error_code(std::errc::timed_out),
                   fmt::format("{}: no answer to control command {}.{} within {} ms", device_name_, class_,
                               command_code_, timeout.count())};
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  (void)ring_.next_used();
  const volatile std::byte* ack = command_ + ack_offset_;
  const auto answer = std::to_integer<unsigned>(*ack);
  if (answer != control::ack_ok) {
    return invalid_argument(fmt::format("{}: the device refused control command {}.{} (ack {:#x}; virtio 1.2, "
                                        "5.1.6.5)",
                                        device_name_, class_, command_code_, answer));
  }
  return {};
}

}  // namespace aether::drivers::virtio_net
