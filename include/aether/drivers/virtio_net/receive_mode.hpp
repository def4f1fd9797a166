// ReceiveMode: multicast groups and promiscuous mode of a virtio-net port
// through its control virtqueue (virtio 1.2, 5.1.6.5.1 RX mode and 5.1.6.5.2
// MAC table, both needing VIRTIO_NET_F_CTRL_RX). Joining or leaving a group
// sends the whole multicast MAC table again (MAC_TABLE_SET replaces it);
// a refused command leaves the group list as it was.
//
// Control path, any thread: a mutex serialises the commands.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/drivers/virtio_net/control_queue.hpp"

namespace aether::drivers::virtio_net {

class ReceiveMode {
 public:
  // `control` outlives this object.
  explicit ReceiveMode(ControlQueue& control) noexcept : control_(control) {}

  // Errors: a group outside 224.0.0.0/4, (leave) one not joined, or the
  // device's refusal or silence (ControlQueue::send).
  [[nodiscard]] Result<void> join(std::uint32_t group_be, const std::string& device_name);
  [[nodiscard]] Result<void> leave(std::uint32_t group_be, const std::string& device_name);
  [[nodiscard]] Result<void> set_promiscuous(bool enabled);

 private:
  [[nodiscard]] Result<void> send_table(const std::vector<std::uint32_t>& groups);

  ControlQueue& control_;
  std::mutex mutex_;
  std::vector<std::uint32_t> groups_;  // joined, network byte order
};

}  // namespace aether::drivers::virtio_net
