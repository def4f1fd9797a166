// Bring-up steps of the 82574 that come before any queue: global reset,
// interrupts masked, link forced up, MAC read from receive address 0
// (../shared/specs/e1000e-82574.md, "Minimal bring-up").
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "aether/core/result.hpp"

namespace aether::drivers::e1000e {

struct LinkState {
  std::array<std::uint8_t, 6> mac{};
  bool mac_valid = false;  // RAH(0).AV set (loaded from the NVM at reset)
  bool link_up = false;
  unsigned speed_mbps = 0;
  bool full_duplex = false;

  [[nodiscard]] std::string describe() const;  // "mac 52:54:00:12:34:57, link up 1000 Mb/s full duplex"
};

// Before BAR 0 is used: `bar0_size` bytes (VFIO's region size) must cover
// every register the driver touches (bar0_bytes_used). Errors name the
// device, its BAR size and what is needed.
[[nodiscard]] Result<void> check_bar0_size(std::uint64_t bar0_size, const std::string& device_name);

// `bar0` is the mapped BAR 0. Resets the device (CTRL.RST, waits for it to
// clear), masks all interrupts (IMC) and clears pending causes (ICR), sets
// CTRL.SLU|ASDE and waits up to `link_timeout` for STATUS.LU.
// Errors: the reset bit never cleared. A link that stays down is reported
// in the result, not an error.
[[nodiscard]] Result<LinkState> reset_and_link_up(volatile std::byte* bar0, const std::string& device_name,
                                                  std::chrono::milliseconds link_timeout = std::chrono::seconds(2));

// Stops all DMA before the memory the device was given goes away:
// receive and transmit disabled, interrupts masked, then a global reset
// (CTRL.RST), waited for up to 100 ms. noexcept (destructors); returns
// false if the reset bit did not clear or the device reads all ones.
bool stop_device(volatile std::byte* bar0) noexcept;

}  // namespace aether::drivers::e1000e
