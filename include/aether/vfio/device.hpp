// Device: an opened VFIO device fd (from a group or a device cdev): its
// regions (BARs, PCI config space), IRQ indexes and reset
// (<linux/vfio.h>: VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO,
// VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_RESET).
//
// Config space is region VFIO_PCI_CONFIG_REGION_INDEX (7), accessed with
// pread/pwrite at the region's offset; BARs 0-5 are regions 0-5 and are
// mmap()ed when the region has VFIO_REGION_INFO_FLAG_MMAP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "aether/core/result.hpp"
#include "aether/vfio/bar_mapping.hpp"
#include "aether/vfio/unique_fd.hpp"

namespace aether::vfio {

struct DeviceInfo {
  std::uint32_t flags = 0;
  std::uint32_t region_count = 0;
  std::uint32_t irq_count = 0;
  [[nodiscard]] bool supports_reset() const noexcept { return (flags & 1U) != 0; }  // VFIO_DEVICE_FLAGS_RESET
  [[nodiscard]] bool is_pci() const noexcept { return (flags & 2U) != 0; }          // VFIO_DEVICE_FLAGS_PCI
};

struct RegionInfo {
  std::uint32_t index = 0;
  std::uint32_t flags = 0;
  std::uint64_t size = 0;    // 0: the region does not exist (e.g. an unused BAR)
  std::uint64_t offset = 0;  // offset within the device fd for pread/pwrite/mmap
  [[nodiscard]] bool readable() const noexcept { return (flags & 1U) != 0; }
  [[nodiscard]] bool writable() const noexcept { return (flags & 2U) != 0; }
  [[nodiscard]] bool mappable() const noexcept { return (flags & 4U) != 0; }
};

struct IrqInfo {
  std::uint32_t index = 0;
  std::uint32_t flags = 0;
  std::uint32_t count = 0;  // vectors available (0: this IRQ type is absent)
};

class Device {
 public:
  // Takes ownership of an opened device fd; `name` (the BDF) is used in
  // every message.
  Device(UniqueFd fd, std::string name) noexcept : fd_(std::move(fd)), name_(std::move(name)) {}

  [[nodiscard]] Result<DeviceInfo> info() const;
  [[nodiscard]] Result<RegionInfo> region_info(std::uint32_t index) const;
  [[nodiscard]] Result<IrqInfo> irq_info(std::uint32_t index) const;

  // PCI configuration space access (offset within the 256 B / 4 KiB space).
  [[nodiscard]] Result<void> read_config(std::uint32_t offset, std::span<std::byte> out) const;
  [[nodiscard]] Result<void> write_config(std::uint32_t offset, std::span<const std::byte> data);
  [[nodiscard]] Result<std::uint8_t> read_config_u8(std::uint32_t offset) const;
  [[nodiscard]] Result<std::uint16_t> read_config_u16(std::uint32_t offset) const;
  [[nodiscard]] Result<std::uint32_t> read_config_u32(std::uint32_t offset) const;
  [[nodiscard]] Result<void> write_config_u16(std::uint32_t offset, std::uint16_t value);

  // mmap()s BAR `bar` (0-5) read/write. Errors: the BAR is absent, is an
  // I/O port BAR or cannot be mapped (no VFIO_REGION_INFO_FLAG_MMAP).
  [[nodiscard]] Result<BarMapping> map_bar(unsigned bar) const;

  // Sets Bus Master Enable in the PCI command register (bit 2): required
  // before the device may do any DMA (PCI Local Bus spec 3.0, 6.2.2).
  [[nodiscard]] Result<void> enable_bus_master();

  // VFIO_DEVICE_RESET (function-level or other reset the kernel picked).
  // Errors when the device offers no reset.
  [[nodiscard]] Result<void> reset();

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  UniqueFd fd_;
  std::string name_;
  mutable std::uint64_t config_offset_ = 0;  // cached region 7 offset
  mutable bool config_offset_known_ = false;
  [[nodiscard]] Result<std::uint64_t> config_offset() const;
};

}  // namespace aether::vfio
