#include "aether/drivers/virtio_net/pci_capabilities.hpp"

#include <cstring>

namespace aether::drivers::virtio_net {
namespace {

// PCI Local Bus spec 3.0, 6.2 and 6.7: Status register bit 4 says a
// capability list exists; its first entry's offset is at 0x34 with the low
// two bits reserved; each entry starts with ID and next pointer.
constexpr std::size_t status_register = 0x06;
constexpr std::uint16_t status_capability_list = 1U << 4;
constexpr std::size_t capabilities_pointer = 0x34;
constexpr std::uint8_t capability_id_vendor = 0x09;
constexpr std::uint8_t capability_id_msix = 0x11;
// 256 bytes hold at most 48 capabilities of 4+ bytes after the 64-byte header.
constexpr unsigned max_capabilities = 48;

template <class T>
T load(std::span<const std::byte> bytes, std::size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));  // little-endian host (x86)
  return value;
}

std::string describe_location(const StructureLocation& location) {
  return fmt::format("bar{}+{:#x}/{:#x}", location.bar, location.offset, location.length);
}

}  // namespace

std::string VirtioPciLayout::describe() const {
  std::string text = fmt::format("common {}, notify {} x{}", describe_location(common), describe_location(notify),
                                 notify_off_multiplier);
  text += isr ? fmt::format(", isr {}", describe_location(*isr)) : ", no isr";
  text += device ? fmt::format(", device {}", describe_location(*device)) : ", no device config";
  if (msix_capability_offset) text += fmt::format(", msi-x cap at {:#x}", *msix_capability_offset);
  return text;
}

Result<VirtioPciLayout> parse_virtio_capabilities(std::span<const std::byte> config_space,
                                                  const std::string& device_name) {
  if (config_space.size() < pci_config_space_size) {
    return invalid_argument(fmt::format("{}: {} bytes of PCI config space given, {} needed", device_name,
                                        config_space.size(), pci_config_space_size));
  }
  if ((load<std::uint16_t>(config_space, status_register) & status_capability_list) == 0) {
    return invalid_argument(fmt::format("{}: PCI status register has no capability list; not a virtio 1.x device "
                                        "(a legacy-only device? QEMU: disable-legacy=on)",
                                        device_name));
  }
  VirtioPciLayout layout;
  bool have_common = false;
  bool have_notify = false;
  auto position = static_cast<std::size_t>(load<std::uint8_t>(config_space, capabilities_pointer) & 0xfc);
  unsigned visited = 0;
  while (position != 0) {
    if (position < 0x40 || position + 2 > pci_config_space_size || ++visited > max_capabilities) {
      return invalid_argument(fmt::format("{}: malformed PCI capability list (entry at {:#x}, {} visited)", device_name,
                                          position, visited));
    }
    const auto id = load<std::uint8_t>(config_space, position);
    const auto next = static_cast<std::size_t>(load<std::uint8_t>(config_space, position + 1) & 0xfc);
    if (id == capability_id_msix && !layout.msix_capability_offset) {
      layout.msix_capability_offset = static_cast<std::uint8_t>(position);
    }
    if (id == capability_id_vendor && position + sizeof(VirtioPciCap) <= pci_config_space_size) {
      const auto cap = load<VirtioPciCap>(config_space, position);
      // virtio 1.2 4.1.4: "The driver MUST ignore any vendor-specific
      // capability structure which has a reserved bar value", and it SHOULD
      // use the first instance of each type it supports.
      if (cap.bar <= 5 && cap.cap_len >= sizeof(VirtioPciCap)) {
        const StructureLocation location{cap.bar, cap.offset, cap.length, static_cast<std::uint8_t>(position)};
        switch (static_cast<CapabilityType>(cap.cfg_type)) {
          case CapabilityType::common:
            if (!have_common) layout.common = location;
            have_common = true;
            break;
          case CapabilityType::notify:
            if (!have_notify) {
              if (cap.cap_len < sizeof(VirtioPciNotifyCap) || position + sizeof(VirtioPciNotifyCap) > pci_config_space_size) {
                return invalid_argument(fmt::format("{}: notification capability at {:#x} is {} bytes, {} needed for "
                                                    "notify_off_multiplier (virtio 1.2, 4.1.4.4)",
                                                    device_name, position, cap.cap_len, sizeof(VirtioPciNotifyCap)));
              }
              layout.notify = location;
              layout.notify_off_multiplier = load<VirtioPciNotifyCap>(config_space, position).notify_off_multiplier;
            }
            have_notify = true;
            break;
          case CapabilityType::isr:
            if (!layout.isr) layout.isr = location;
            break;
          case CapabilityType::device:
            if (!layout.device) layout.device = location;
            break;
          default:
            break;  // PCI config access, shared memory, vendor data: not used
        }
      }
    }
    position = next;
  }
  if (!have_common || !have_notify) {
    return invalid_argument(fmt::format("{}: no virtio {} capability found; the device lacks the virtio 1.x (modern) "
                                        "interface (virtio 1.2, 4.1.4)",
                                        device_name, !have_common ? "common configuration" : "notification"));
  }
  return layout;
}

}  // namespace aether::drivers::virtio_net
