// What Aether's drivers read from a passthrough device, measured: the lines
// of "device.<BDF>" that only the device itself can answer.
//
//   virtio-net (1af4:1041, 1af4:1000): the 64 device feature bits, read
//     through the common configuration's 32-bit select window (virtio 1.2,
//     4.1.4.3), and the MAC from the device configuration (5.1.4) when the
//     device offers VIRTIO_NET_F_MAC, read byte by byte inside a stable
//     config_generation (2.5.1, 4.1.4.3.1): what the virtio-net driver reads
//     at bring-up (src/drivers/virtio_net/common_config.cpp, device_config.cpp).
//   e1000e (8086:10d3): the MAC in RAL(0)/RAH(0) with RAH.AV (registers
//     0x5400/0x5404, ../shared/specs/e1000e-82574.md; what
//     src/drivers/e1000e/device_reset.cpp reads), and the NVM checksum:
//     words 0x00-0x3F read through EERD (0x14) sum to 0xBABA (Linux e1000e
//     NVM_SUM / NVM_CHECKSUM_REG 0x3F, validated at probe by
//     e1000e_validate_nvm_checksum_generic). Aether's driver does not read
//     the NVM; it is measured here because a device whose NVM was changed
//     keeps its IDs.
//
// Read the same way as the driver: the device is opened through VFIO
// (vfio::DeviceSession), BAR 0 / the virtio structures' BAR mapped and read
// with the drivers' MMIO accessor and register definitions. Read-only with
// respect to the device's state: no reset on open or close, no status or
// feature written; the only writes are the select registers the reads need
// (virtio device_feature_select, e1000e EERD's read command).
//
// Control path only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "aether/core/result.hpp"
#include "aether/vfio/pci_sysfs.hpp"

namespace aether::attest {

using MacAddress = std::array<std::uint8_t, 6>;

struct VirtioNetView {
  std::uint64_t device_features = 0;
  std::optional<MacAddress> mac;  // nullopt: the device does not offer VIRTIO_NET_F_MAC
};

struct E1000eView {
  MacAddress mac{};
  bool mac_valid = false;            // RAH(0).AV
  std::uint16_t nvm_word_sum = 0;    // words 0x00-0x3F, modulo 2^16
};

// What was read from one device, or why nothing was: `unavailable` carries
// the reason (the device is open in another process, its BAR is too small,
// ...), measured as such so that a verifier names it instead of a quote
// failing.
struct DriverView {
  std::variant<std::monostate, VirtioNetView, E1000eView> reads;  // monostate: no Aether driver for this device
  std::string unavailable;                                         // not empty: nothing could be read
};

// NVM words 0x00-0x3F must sum to this (Linux e1000e defines.h NVM_SUM).
inline constexpr std::uint16_t e1000e_nvm_checksum = 0xbaba;
inline constexpr std::size_t e1000e_nvm_checksum_words = 0x40;

// The 16-bit sum of `words` (the caller passes words 0x00-0x3F).
[[nodiscard]] std::uint16_t nvm_word_sum(std::span<const std::uint16_t> words) noexcept;

// The measured lines, e.g.
//   driver_read virtio-net
//   virtio_device_features 0x0000000130ff8064
//   virtio_mac 52:54:00:12:34:56
// or "driver_read none (...)" / "driver_read unavailable: <reason>".
// `function` says which driver is bound (only vfio-pci functions are read).
[[nodiscard]] std::string format_driver_view(const vfio::PciFunction& function, const DriverView& view);

// Reads a device: `function` bound to vfio-pci and one of Aether's drivers'
// IDs; anything else gives a view with nothing read.
using DriverViewReader = std::function<DriverView(const vfio::PciFunction& function)>;

// The real reader: opens the device through VFIO below `sysfs_root` and
// /dev. A failure to open or read becomes DriverView::unavailable.
[[nodiscard]] DriverView read_driver_view(const vfio::PciFunction& function, const std::string& sysfs_root);

}  // namespace aether::attest
