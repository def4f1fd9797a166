// PciAddress: a PCI function's domain:bus:device.function ("BDF"), the name
// under which sysfs, VFIO and every error message of this module refer to a
// device (e.g. 0000:00:03.0).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aether/core/result.hpp"

namespace aether::vfio {

struct PciAddress {
  std::uint32_t domain = 0;   // 16 bits in practice; sysfs prints 4 hex digits
  std::uint8_t bus = 0;
  std::uint8_t device = 0;    // 5 bits: 0..0x1f
  std::uint8_t function = 0;  // 3 bits: 0..7

  // Accepts "DDDD:BB:DD.F" (as in /sys/bus/pci/devices) and the short
  // "BB:DD.F" (domain 0, as lspci prints it). Errors quote the text.
  [[nodiscard]] static Result<PciAddress> parse(std::string_view text);

  // Canonical sysfs spelling, lower-case hex: "0000:00:03.0".
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const PciAddress&, const PciAddress&) = default;
};

}  // namespace aether::vfio
