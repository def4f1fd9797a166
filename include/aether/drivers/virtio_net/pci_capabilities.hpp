// Where a virtio 1.x PCI device keeps its configuration structures: the
// vendor-specific PCI capabilities of virtio 1.2 section 4.1.4 ("Virtio
// Structure PCI Capabilities"), found by walking the capability list in
// PCI config space. Each says which BAR, at what offset and how long the
// common configuration, notification area, ISR status and device-specific
// configuration are.
//
// Pure parsing over a copy of config space, so it is unit tested with
// synthetic images; the driver reads config space through VFIO
// (vfio::Device::read_config) and passes it here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "aether/core/result.hpp"

namespace aether::drivers::virtio_net {

// cfg_type values (virtio 1.2, 4.1.4).
enum class CapabilityType : std::uint8_t {
  common = 1,
  notify = 2,
  isr = 3,
  device = 4,
  pci_config = 5,
  shared_memory = 8,
  vendor = 9,
};

// struct virtio_pci_cap (virtio 1.2, 4.1.4): 16 bytes, little-endian.
struct VirtioPciCap {
  std::uint8_t cap_vndr;  // PCI_CAP_ID_VNDR = 0x09
  std::uint8_t cap_next;
  std::uint8_t cap_len;
  std::uint8_t cfg_type;  // CapabilityType
  std::uint8_t bar;       // 0x0..0x5; other values reserved
  std::uint8_t id;        // several capabilities of one type (shared memory); v1.0/1.1: padding
  std::uint8_t padding[2];
  std::uint32_t offset;   // within the BAR
  std::uint32_t length;   // bytes
};
static_assert(sizeof(VirtioPciCap) == 16);
static_assert(offsetof(VirtioPciCap, cfg_type) == 3);
static_assert(offsetof(VirtioPciCap, bar) == 4);
static_assert(offsetof(VirtioPciCap, offset) == 8);
static_assert(offsetof(VirtioPciCap, length) == 12);

// struct virtio_pci_notify_cap: the common header plus the multiplier
// (virtio 1.2, 4.1.4.4).
struct VirtioPciNotifyCap {
  VirtioPciCap cap;
  std::uint32_t notify_off_multiplier;
};
static_assert(sizeof(VirtioPciNotifyCap) == 20);

struct StructureLocation {
  std::uint8_t bar = 0;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
  std::uint8_t capability_offset = 0;  // where in config space the capability was
};

struct VirtioPciLayout {
  StructureLocation common;
  StructureLocation notify;
  std::uint32_t notify_off_multiplier = 0;
  std::optional<StructureLocation> isr;     // only needed for INTx
  std::optional<StructureLocation> device;  // virtio-net: MAC, status, MTU...
  std::optional<std::uint8_t> msix_capability_offset;  // PCI cap ID 0x11

  // "common bar4+0x0/0x1000, notify bar4+0x3000/0x1000 x4, isr ..., device ..."
  [[nodiscard]] std::string describe() const;
};

// Size of the conventional PCI config space header + capabilities that the
// parser needs (capabilities live in the first 256 bytes).
inline constexpr std::size_t pci_config_space_size = 256;

// Parses the capability list of `config_space` (at least 256 bytes, as read
// from offset 0). Errors: no capability list, a malformed or looping list,
// a missing common or notification capability, a notification capability
// too short for its multiplier. `device_name` names the device in messages.
[[nodiscard]] Result<VirtioPciLayout> parse_virtio_capabilities(std::span<const std::byte> config_space,
                                                                const std::string& device_name);

}  // namespace aether::drivers::virtio_net
