#include "aether/drivers/e1000e/device_health.hpp"

#include <fmt/format.h>

#include "aether/drivers/e1000e/registers.hpp"
#include "aether/drivers/mmio.hpp"

namespace aether::drivers::e1000e {

void DeviceHealth::record(DeviceFault fault, std::uint32_t register_value) noexcept {
  const std::uint64_t wanted = (std::uint64_t{static_cast<std::uint8_t>(fault)} << 32) | register_value;
  std::uint64_t expected = 0;
  // Release: a reader that sees the fault (acquire in fault()) sees the
  // value with it; they are one word anyway. Failure means another thread
  // recorded first: its report stands.
  (void)state_.compare_exchange_strong(expected, wanted, std::memory_order_release, std::memory_order_relaxed);
}

bool DeviceHealth::check() noexcept {
  if (faulted()) return true;
  struct Enabled {
    std::size_t offset;
    std::uint32_t enable_bit;
    DeviceFault when_clear;
  };
  // Both EN bits are set by the queue and never cleared while the port runs.
  constexpr Enabled checks[] = {{reg::rctl, rctl::enable, DeviceFault::receive_disabled},
                                {reg::tctl, tctl::enable, DeviceFault::transmit_disabled}};
  for (const Enabled& check : checks) {
    const std::uint32_t value = mmio::read32(bar0_, check.offset);
    // All ones is what a PCIe read of a function that does not answer
    // completes with. RCTL and TCTL both have reserved bits that read 0, so
    // all ones is never a value the device itself holds.
    if (value == 0xffffffff) {
      record(DeviceFault::not_responding, value);
      return true;
    }
    if ((value & check.enable_bit) == 0) {
      record(check.when_clear, value);
      return true;
    }
  }
  return false;
}

std::optional<std::string> DeviceHealth::describe() const {
  const std::uint64_t state = state_.load(std::memory_order_acquire);
  const auto value = static_cast<std::uint32_t>(state);
  constexpr const char* consequence = "the port stopped using its rings; close it and open it again";
  switch (static_cast<DeviceFault>(state >> 32)) {
    case DeviceFault::none: return std::nullopt;
    case DeviceFault::not_responding:
      return fmt::format("{}: register reads return all ones ({:#010x}): the device was removed, is in reset or in a "
                         "low-power state; {}",
                         device_name_, value, consequence);
    case DeviceFault::receive_disabled:
      return fmt::format("{}: RCTL.EN found cleared (RCTL {:#010x}): the device was reset underneath the port (e.g. a "
                         "write to /sys/bus/pci/devices/{}/reset); {}",
                         device_name_, value, device_name_, consequence);
    case DeviceFault::transmit_disabled:
      return fmt::format("{}: TCTL.EN found cleared (TCTL {:#010x}): the device was reset underneath the port (e.g. a "
                         "write to /sys/bus/pci/devices/{}/reset); {}",
                         device_name_, value, device_name_, consequence);
  }
  return fmt::format("{}: unknown device fault {:#x}", device_name_, state);
}

}  // namespace aether::drivers::e1000e
