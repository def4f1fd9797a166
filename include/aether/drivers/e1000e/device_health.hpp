// DeviceHealth: notices that an 82574 stopped being the device the port
// configured, and remembers the first sign of it.
//
// Two things can happen underneath a running port:
//   - the device is reset by someone else (a write to
//     /sys/bus/pci/devices/BDF/reset, a hypervisor, a PCIe error recovery):
//     every register is back at its default, so RCTL.EN and TCTL.EN, which
//     the port set and never clears while it runs, read 0;
//   - the device is gone or not answering (surprise removal, the function
//     in reset or D3): register reads complete with all ones.
// Either way its rings are no longer what the port thinks; the port stops
// touching them (bursts return 0) and reports through
// net::Port::device_fault(). Reopening the port is the way back.
//
// Threading: check() may run on the worker (every few hundred bursts) and
// on any control thread (device_fault()) at once; the first fault found
// wins and is never replaced. Register reads here are harmless to repeat
// (no read-to-clear registers).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace aether::drivers::e1000e {

enum class DeviceFault : std::uint8_t {
  none = 0,
  not_responding,     // a register read returned all ones
  receive_disabled,   // RCTL.EN found cleared
  transmit_disabled,  // TCTL.EN found cleared
};

class DeviceHealth {
 public:
  // `device_name` (the BDF) is only used in messages.
  DeviceHealth(volatile std::byte* bar0, std::string device_name) noexcept
      : bar0_(bar0), device_name_(std::move(device_name)) {}

  // Reads RCTL and TCTL; records and returns true on a fault (already
  // recorded or new). noexcept, no syscall: two MMIO reads.
  bool check() noexcept;

  // The recorded fault, if any (one relaxed load: cheap enough per burst).
  [[nodiscard]] bool faulted() const noexcept { return state_.load(std::memory_order_relaxed) != 0; }
  [[nodiscard]] DeviceFault fault() const noexcept {
    return static_cast<DeviceFault>(state_.load(std::memory_order_acquire) >> 32);
  }

  // "0000:00:04.0: RCTL.EN found cleared (RCTL 0x00000000): the device was
  // reset underneath the port ...", or nothing.
  [[nodiscard]] std::optional<std::string> describe() const;

  // Records a fault seen elsewhere (tests; a driver path that knows better).
  void record(DeviceFault fault, std::uint32_t register_value) noexcept;

 private:
  volatile std::byte* bar0_;
  std::string device_name_;
  // The fault (high 32 bits) and the register value that showed it (low
  // 32 bits), in one word so that the first writer's pair stays together.
  std::atomic<std::uint64_t> state_{0};
};

}  // namespace aether::drivers::e1000e
