// read_driver_view: the device registers Aether's drivers read, read through
// VFIO the way the drivers read them (driver_view.hpp).
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#include "aether/attest/device_measurement.hpp"
#include "aether/attest/driver_view.hpp"
#include "aether/drivers/e1000e/registers.hpp"
#include "aether/drivers/mmio.hpp"
#include "aether/drivers/virtio_net/device_config.hpp"
#include "aether/drivers/virtio_net/pci_capabilities.hpp"
#include "aether/drivers/virtio_net/registers.hpp"
#include "aether/vfio/device_session.hpp"
#include "aether/vfio/device_support.hpp"
#include "try.hpp"

namespace aether::attest {
namespace {

namespace virtio = drivers::virtio_net;
namespace e1000e = drivers::e1000e;
namespace mmio = drivers::mmio;

// EERD, the 82574's NVM read register (Linux e1000e defines.h
// E1000_NVM_RW_*): write the word address << 2 with START (bit 0); the
// device sets DONE (bit 1) and puts the word in bits 31:16.
constexpr std::size_t eerd = 0x00014;
constexpr std::uint32_t eerd_start = 0x1;
constexpr std::uint32_t eerd_done = 0x2;
constexpr unsigned eerd_address_shift = 2;
constexpr unsigned eerd_data_shift = 16;
// Linux polls EERD for up to 100,000 x 5 us; a word takes microseconds.
constexpr auto eerd_timeout = std::chrono::milliseconds(100);

Result<std::vector<std::uint8_t>> read_config_space(const vfio::Device& device) {
  std::vector<std::byte> bytes(virtio::pci_config_space_size);
  AETHER_TRY_VOID(device.read_config(0, bytes));
  std::vector<std::uint8_t> config(bytes.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) config[i] = static_cast<std::uint8_t>(bytes[i]);
  return config;
}

std::uint32_t read_le32(const std::vector<std::uint8_t>& config, std::size_t offset) {
  return static_cast<std::uint32_t>(config[offset]) | static_cast<std::uint32_t>(config[offset + 1]) << 8 |
         static_cast<std::uint32_t>(config[offset + 2]) << 16 | static_cast<std::uint32_t>(config[offset + 3]) << 24;
}

// The first virtio vendor capability of `type` (virtio 1.2, 4.1.4: the
// driver uses the first one of each type and ignores reserved BAR values).
Result<virtio::StructureLocation> find_virtio_structure(const std::vector<std::uint8_t>& config,
                                                        virtio::CapabilityType type, const std::string& name) {
  constexpr std::uint8_t vendor_capability = 0x09;
  for (const PciCapability& capability : capability_list(config)) {
    const std::size_t at = capability.offset;
    if (capability.id != vendor_capability || at + sizeof(virtio::VirtioPciCap) > config.size()) continue;
    if (config[at + offsetof(virtio::VirtioPciCap, cfg_type)] != static_cast<std::uint8_t>(type)) continue;
    const std::uint8_t bar = config[at + offsetof(virtio::VirtioPciCap, bar)];
    if (bar > 5) continue;
    return virtio::StructureLocation{bar, read_le32(config, at + offsetof(virtio::VirtioPciCap, offset)),
                                     read_le32(config, at + offsetof(virtio::VirtioPciCap, length)), capability.offset};
  }
  return invalid_argument(fmt::format("{}: no virtio capability of type {} (virtio 1.2, 4.1.4)", name,
                                      static_cast<unsigned>(type)));
}

// The structure inside its BAR's mapping, `needed` bytes of it checked
// against both the capability's length and the BAR (a device is untrusted).
Result<volatile std::byte*> structure_base(const vfio::BarMapping& mapping, const virtio::StructureLocation& location,
                                           std::size_t needed, const std::string& name) {
  if (location.length < needed || std::size_t{location.offset} + needed > mapping.length()) {
    return invalid_argument(fmt::format("{}: virtio structure at bar{}+{:#x} ({} bytes) does not hold the {} bytes "
                                        "read (BAR {} bytes)",
                                        name, location.bar, location.offset, location.length, needed,
                                        mapping.length()));
  }
  return mapping.base() + location.offset;
}

Result<VirtioNetView> read_virtio(vfio::Device& device) {
  AETHER_TRY(const auto config, read_config_space(device));
  AETHER_TRY(const auto common, find_virtio_structure(config, virtio::CapabilityType::common, device.name()));
  AETHER_TRY(const vfio::BarMapping common_bar, device.map_bar(common.bar));
  AETHER_TRY(volatile std::byte* const common_base,
             structure_base(common_bar, common, virtio::common_cfg::size_v1_0, device.name()));
  VirtioNetView view;
  // The 64 feature bits through the 32-bit select window (4.1.4.3).
  mmio::write32(common_base, virtio::common_cfg::device_feature_select, 0);
  view.device_features = mmio::read32(common_base, virtio::common_cfg::device_feature);
  mmio::write32(common_base, virtio::common_cfg::device_feature_select, 1);
  view.device_features |= std::uint64_t{mmio::read32(common_base, virtio::common_cfg::device_feature)} << 32;
  if ((view.device_features & virtio::feature::bit(virtio::feature::net_mac)) == 0) return view;

  AETHER_TRY(const auto device_cfg, find_virtio_structure(config, virtio::CapabilityType::device, device.name()));
  vfio::BarMapping device_bar;
  if (device_cfg.bar != common.bar) {
    AETHER_TRY(device_bar, device.map_bar(device_cfg.bar));
  }
  const vfio::BarMapping& mac_bar = device_cfg.bar == common.bar ? common_bar : device_bar;
  constexpr std::size_t mac_end = offsetof(virtio::VirtioNetConfig, mac) + 6;
  AETHER_TRY(volatile std::byte* const device_base, structure_base(mac_bar, device_cfg, mac_end, device.name()));
  // Byte by byte inside one config_generation (2.5.1, 4.1.4.3.1), as the
  // driver's read_net_config does, with the same bound on retries.
  for (unsigned attempt = 0; attempt < virtio::max_config_generation_attempts; ++attempt) {
    const std::uint8_t before = mmio::read8(common_base, virtio::common_cfg::config_generation);
    MacAddress mac{};
    for (std::size_t i = 0; i < mac.size(); ++i) {
      mac[i] = mmio::read8(device_base, offsetof(virtio::VirtioNetConfig, mac) + i);
    }
    if (mmio::read8(common_base, virtio::common_cfg::config_generation) == before) {
      view.mac = mac;
      return view;
    }
  }
  return invalid_argument(fmt::format("{}: config_generation changed during each of {} reads of the MAC",
                                      device.name(), virtio::max_config_generation_attempts));
}

Result<std::uint16_t> read_nvm_word(volatile std::byte* bar0, unsigned address, const std::string& name) {
  mmio::write32(bar0, eerd, address << eerd_address_shift | eerd_start);
  const auto deadline = std::chrono::steady_clock::now() + eerd_timeout;
  for (;;) {
    const std::uint32_t value = mmio::read32(bar0, eerd);
    if ((value & eerd_done) != 0) return static_cast<std::uint16_t>(value >> eerd_data_shift);
    if (std::chrono::steady_clock::now() >= deadline) {
      return invalid_argument(fmt::format("{}: EERD did not report DONE for NVM word {:#x} within {} ms", name,
                                          address, eerd_timeout.count()));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(5));
  }
}

Result<E1000eView> read_e1000e(vfio::Device& device) {
  AETHER_TRY(const vfio::BarMapping bar0, device.map_bar(0));
  if (bar0.length() < e1000e::bar0_bytes_used) {
    return invalid_argument(fmt::format("{}: BAR 0 has {:#x} bytes, RAH(0) is at {:#x}", device.name(),
                                        bar0.length(), e1000e::reg::receive_address_high));
  }
  E1000eView view;
  // RAL(0) holds MAC bytes 0-3, RAH(0) bytes 4-5 and AV (bit 31), as the
  // driver reads them after its reset.
  const std::uint32_t low = mmio::read32(bar0.base(), e1000e::reg::receive_address_low);
  const std::uint32_t high = mmio::read32(bar0.base(), e1000e::reg::receive_address_high);
  for (unsigned i = 0; i < 4; ++i) view.mac[i] = static_cast<std::uint8_t>(low >> (8 * i));
  view.mac[4] = static_cast<std::uint8_t>(high);
  view.mac[5] = static_cast<std::uint8_t>(high >> 8);
  view.mac_valid = (high & e1000e::receive_address_valid) != 0;
  std::vector<std::uint16_t> words(e1000e_nvm_checksum_words);
  for (unsigned address = 0; address < words.size(); ++address) {
    AETHER_TRY(words[address], read_nvm_word(bar0.base(), address, device.name()));
  }
  view.nvm_word_sum = nvm_word_sum(words);
  return view;
}

}  // namespace

DriverView read_driver_view(const vfio::PciFunction& function, const std::string& sysfs_root) {
  DriverView view;
  const vfio::DriverKind kind = vfio::driver_for(function.vendor, function.device);
  if (kind == vfio::DriverKind::none || function.driver != "vfio-pci") return view;
  vfio::SessionOptions options;
  options.sysfs_root = sysfs_root;
  options.reset_on_open = false;  // measure the device as it is, change nothing
  options.reset_on_close = false;
  auto session = vfio::DeviceSession::open(function.address, options);
  if (!session) {
    view.unavailable = session.error().message;
    return view;
  }
  vfio::Device& device = (*session)->device();
  if (kind == vfio::DriverKind::virtio_net) {
    auto virtio_view = read_virtio(device);
    if (virtio_view) view.reads = *virtio_view;
    else view.unavailable = virtio_view.error().message;
  } else {
    auto e1000e_view = read_e1000e(device);
    if (e1000e_view) view.reads = *e1000e_view;
    else view.unavailable = e1000e_view.error().message;
  }
  return view;
}

}  // namespace aether::attest
