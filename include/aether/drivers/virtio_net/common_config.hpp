// CommonConfig: the virtio 1.x common configuration structure of a mapped
// BAR (virtio 1.2, 4.1.4.3) and the bring-up steps of 3.1.1 that use it:
// reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK.
// Control path only; register access goes through drivers/mmio.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "aether/core/result.hpp"
#include "aether/drivers/virtio_net/feature_negotiation.hpp"

namespace aether::drivers::virtio_net {

class CommonConfig {
 public:
  // `base` points at the structure (BAR mapping + capability offset); the
  // mapping must outlive this object. `device_name` is for messages.
  CommonConfig(volatile std::byte* base, std::string device_name) noexcept
      : base_(base), device_name_(std::move(device_name)) {}

  // The 64 device feature bits, read through the 32-bit select window.
  [[nodiscard]] std::uint64_t device_features() const noexcept;
  void set_driver_features(std::uint64_t features) const noexcept;
  [[nodiscard]] std::uint8_t status() const noexcept;
  void set_status(std::uint8_t status) const noexcept;
  [[nodiscard]] std::uint16_t queue_count() const noexcept;
  [[nodiscard]] std::uint8_t config_generation() const noexcept;

  // Writes 0 to device_status and waits until it reads back 0
  // (4.1.4.3.2: the device has finished its reset).
  [[nodiscard]] Result<void> reset(std::chrono::milliseconds timeout = std::chrono::milliseconds(1000)) const;

  // 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, read the device's
  // features, write the chosen ones, FEATURES_OK, and check that the device
  // kept FEATURES_OK set. On error the device is left with FAILED set.
  // `control_queue`: also accept CTRL_VQ and CTRL_RX (choose_features).
  [[nodiscard]] Result<FeatureChoice> negotiate(bool behind_iommu, bool control_queue = false) const;

  // Selects queue `index` (queue_select); returns the device's maximum
  // size for it, 0 when the queue does not exist (4.1.4.3).
  [[nodiscard]] std::uint16_t select_queue(std::uint16_t index) const noexcept;
  // Configures the selected queue: size, ring IOVAs, MSI-X vector
  // (0xffff: none), then queue_enable = 1 (4.1.5.1.3). Returns its
  // queue_notify_off. A device that cannot use the vector reads back
  // 0xffff (4.1.4.3.2): check with selected_queue_vector().
  std::uint16_t configure_selected_queue(std::uint16_t size, std::uint64_t descriptors, std::uint64_t driver_ring,
                                         std::uint64_t device_ring, std::uint16_t msix_vector = 0xffff) const noexcept;
  [[nodiscard]] std::uint16_t selected_queue_vector() const noexcept;

  [[nodiscard]] const std::string& device_name() const noexcept { return device_name_; }

 private:
  volatile std::byte* base_;
  std::string device_name_;
};

}  // namespace aether::drivers::virtio_net
