#include "aether/vfio/device.hpp"

#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstring>

namespace aether::vfio {

Result<DeviceInfo> Device::info() const {
  vfio_device_info info{};
  info.argsz = sizeof(info);
  if (::ioctl(fd_.get(), VFIO_DEVICE_GET_INFO, &info) != 0) {
    return errno_error(fmt::format("VFIO_DEVICE_GET_INFO on {} failed", name_));
  }
  return DeviceInfo{info.flags, info.num_regions, info.num_irqs};
}

Result<RegionInfo> Device::region_info(std::uint32_t index) const {
  vfio_region_info info{};
  info.argsz = sizeof(info);
  info.index = index;
  if (::ioctl(fd_.get(), VFIO_DEVICE_GET_REGION_INFO, &info) != 0) {
    return errno_error(fmt::format("VFIO_DEVICE_GET_REGION_INFO({}) on {} failed", index, name_));
  }
  return RegionInfo{index, info.flags, info.size, info.offset};
}

Result<IrqInfo> Device::irq_info(std::uint32_t index) const {
  vfio_irq_info info{};
  info.argsz = sizeof(info);
  info.index = index;
  if (::ioctl(fd_.get(), VFIO_DEVICE_GET_IRQ_INFO, &info) != 0) {
    return errno_error(fmt::format("VFIO_DEVICE_GET_IRQ_INFO({}) on {} failed", index, name_));
  }
  return IrqInfo{index, info.flags, info.count};
}

Result<std::uint64_t> Device::config_offset() const {
  if (config_offset_known_) return config_offset_;
  auto region = region_info(VFIO_PCI_CONFIG_REGION_INDEX);
  if (!region) return std::move(region).error();
  if (region->size == 0) return invalid_argument(fmt::format("{} has no PCI config space region", name_));
  config_offset_ = region->offset;
  config_offset_known_ = true;
  return config_offset_;
}

Result<void> Device::read_config(std::uint32_t offset, std::span<std::byte> out) const {
  auto base = config_offset();
  if (!base) return std::move(base).error();
  const ssize_t got = ::pread(fd_.get(), out.data(), out.size(), static_cast<off_t>(*base + offset));
  if (got != static_cast<ssize_t>(out.size())) {
    return errno_error(fmt::format("reading {} bytes of PCI config space at {:#x} of {} failed", out.size(), offset, name_),
                       got < 0 ? errno : EIO);
  }
  return {};
}

Result<void> Device::write_config(std::uint32_t offset, std::span<const std::byte> data) {
  auto base = config_offset();
  if (!base) return std::move(base).error();
  const ssize_t written = ::pwrite(fd_.get(), data.data(), data.size(), static_cast<off_t>(*base + offset));
  if (written != static_cast<ssize_t>(data.size())) {
    return errno_error(
        fmt::format("writing {} bytes of PCI config space at {:#x} of {} failed", data.size(), offset, name_),
        written < 0 ? errno : EIO);
  }
  return {};
}

namespace {
// PCI config space is little-endian (PCI Local Bus spec 3.0, 6.1); so is x86.
template <class T>
Result<T> read_config_value(const Device& device, std::uint32_t offset) {
  std::array<std::byte, sizeof(T)> bytes{};
  auto read = device.read_config(offset, bytes);
  if (!read) return std::move(read).error();
  T value{};
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}
}  // namespace

Result<std::uint8_t> Device::read_config_u8(std::uint32_t offset) const { return read_config_value<std::uint8_t>(*this, offset); }
Result<std::uint16_t> Device::read_config_u16(std::uint32_t offset) const {
  return read_config_value<std::uint16_t>(*this, offset);
}
Result<std::uint32_t> Device::read_config_u32(std::uint32_t offset) const {
  return read_config_value<std::uint32_t>(*this, offset);
}

Result<void> Device::write_config_u16(std::uint32_t offset, std::uint16_t value) {
  std::array<std::byte, 2> bytes{};
  std::memcpy(bytes.data(), &value, sizeof(value));
  return write_config(offset, bytes);
}

Result<void> Device::enable_bus_master() {
  constexpr std::uint32_t command_register = 0x04;  // PCI 3.0 6.2.2
  constexpr std::uint16_t bus_master_enable = 1U << 2;
  constexpr std::uint16_t memory_space_enable = 1U << 1;
  auto command = read_config_u16(command_register);
  if (!command) return std::move(command).error();
  return write_config_u16(command_register, static_cast<std::uint16_t>(*command | bus_master_enable | memory_space_enable));
}

Result<BarMapping> Device::map_bar(unsigned bar) const {
  if (bar > VFIO_PCI_BAR5_REGION_INDEX) return invalid_argument(fmt::format("{}: there is no BAR {} (0-5)", name_, bar));
  auto region = region_info(bar);
  if (!region) return std::move(region).error();
  if (region->size == 0) return invalid_argument(fmt::format("{}: BAR {} is not implemented", name_, bar));
  if (!region->mappable()) {
    return invalid_argument(fmt::format("{}: BAR {} ({} bytes) cannot be mmap()ed (I/O port BAR, or the MSI-X table "
                                        "shares its page)",
                                        name_, bar, region->size));
  }
  void* base = ::mmap(nullptr, region->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(),
                      static_cast<off_t>(region->offset));
  if (base == MAP_FAILED) {
    return errno_error(fmt::format("mmap of BAR {} ({} bytes) of {} failed", bar, region->size, name_));
  }
  return BarMapping(base, region->size, bar);
}

Result<void> Device::reset() {
  if (::ioctl(fd_.get(), VFIO_DEVICE_RESET) != 0) {
    return errno_error(fmt::format("VFIO_DEVICE_RESET of {} failed", name_));
  }
  return {};
}

}  // namespace aether::vfio
