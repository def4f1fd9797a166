#include "aether/drivers/virtio_net/common_config.hpp"

#include <thread>

#include "aether/drivers/mmio.hpp"
#include "aether/drivers/virtio_net/registers.hpp"

namespace aether::drivers::virtio_net {

std::uint64_t CommonConfig::device_features() const noexcept {
  mmio::write32(base_, common_cfg::device_feature_select, 0);
  const std::uint64_t low = mmio::read32(base_, common_cfg::device_feature);
  mmio::write32(base_, common_cfg::device_feature_select, 1);
  const std::uint64_t high = mmio::read32(base_, common_cfg::device_feature);
  return low | (high << 32);
}

void CommonConfig::set_driver_features(std::uint64_t features) const noexcept {
  mmio::write32(base_, common_cfg::driver_feature_select, 0);
  mmio::write32(base_, common_cfg::driver_feature, static_cast<std::uint32_t>(features));
  mmio::write32(base_, common_cfg::driver_feature_select, 1);
  mmio::write32(base_, common_cfg::driver_feature, static_cast<std::uint32_t>(features >> 32));
}

std::uint8_t CommonConfig::status() const noexcept { return mmio::read8(base_, common_cfg::device_status); }
void CommonConfig::set_status(std::uint8_t status) const noexcept {
  mmio::write8(base_, common_cfg::device_status, status);
}
std::uint16_t CommonConfig::queue_count() const noexcept { return mmio::read16(base_, common_cfg::num_queues); }
std::uint8_t CommonConfig::config_generation() const noexcept {
  return mmio::read8(base_, common_cfg::config_generation);
}

std::uint16_t CommonConfig::select_queue(std::uint16_t index) const noexcept {
  mmio::write16(base_, common_cfg::queue_select, index);
  return mmio::read16(base_, common_cfg::queue_size);
}

namespace {
// 4.1.3.1: 64-bit fields may be written as two 32-bit halves.
void write64(volatile std::byte* base, std::size_t offset, std::uint64_t value) noexcept {
  mmio::write32(base, offset, static_cast<std::uint32_t>(value));
  mmio::write32(base, offset + 4, static_cast<std::uint32_t>(value >> 32));
}
}  // namespace

std::uint16_t CommonConfig::configure_selected_queue(std::uint16_t size, std::uint64_t descriptors,
                                                     std::uint64_t driver_ring,
                                                     std::uint64_t device_ring, std::uint16_t msix_vector) const noexcept {
  mmio::write16(base_, common_cfg::queue_size, size);
  mmio::write16(base_, common_cfg::queue_msix_vector, msix_vector);
  write64(base_, common_cfg::queue_desc, descriptors);
  write64(base_, common_cfg::queue_driver, driver_ring);
  write64(base_, common_cfg::queue_device, device_ring);
  const std::uint16_t notify_off = mmio::read16(base_, common_cfg::queue_notify_off);
  mmio::write16(base_, common_cfg::queue_enable, 1);
  return notify_off;
}

std::uint16_t CommonConfig::selected_queue_vector() const noexcept {
  return mmio::read16(base_, common_cfg::queue_msix_vector);
}

Result<void> CommonConfig::reset(std::chrono::milliseconds timeout) const {
  set_status(device_status::reset);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (status() != device_status::reset) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return invalid_argument(fmt::format("{}: device_status still reads {:#04x} {} ms after writing 0 (reset); the "
                                          "device did not finish its reset (virtio 1.2, 4.1.4.3.2)",
                                          device_name_, status(), timeout.count()));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return {};
}

Result<FeatureChoice> CommonConfig::negotiate(bool behind_iommu, bool control_queue) const {
  if (auto reset_done = reset(); !reset_done) return std::move(reset_done).error();
  set_status(device_status::acknowledge);
  set_status(device_status::acknowledge | device_status::driver);
  auto choice = choose_features(device_features(), behind_iommu, device_name_, control_queue);
  if (!choice) {
    set_status(status() | device_status::failed);
    return std::move(choice).error();
  }
  set_driver_features(choice->accepted);
  set_status(device_status::acknowledge | device_status::driver | device_status::features_ok);
  // 3.1.1 step 6: "re-read device status to ensure the FEATURES_OK bit is
  // still set: otherwise, the device does not support our subset".
  if ((status() & device_status::features_ok) == 0) {
    set_status(status() | device_status::failed);
    return invalid_argument(fmt::format("{} refused the feature set {} ({:#018x}): FEATURES_OK did not stay set",
                                        device_name_, choice->description, choice->accepted));
  }
  return choice;
}

}  // namespace aether::drivers::virtio_net
