#include "aether/attest/device_measurement.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>

#include "aether/core/text_file.hpp"
#include "try.hpp"

namespace aether::attest {
namespace {

// PCI Local Bus 3.0, figure 6-1 (type-0 header) and 6.7 (capabilities).
constexpr std::size_t header_size = 64;
constexpr std::size_t status_offset = 0x06;
constexpr std::uint8_t status_capabilities_list = 0x10;  // Status bit 4
constexpr std::size_t capabilities_pointer = 0x34;
constexpr std::uint8_t capability_msix = 0x11;
constexpr unsigned max_capabilities = 48;  // (256 - 64) / 4: more means a loop
// Volatile header bytes (see the header comment): [first, last].
constexpr std::array<std::pair<std::size_t, std::size_t>, 5> volatile_ranges{{
    {0x04, 0x07},  // Command, Status
    {0x0c, 0x0d},  // Cache Line Size, Latency Timer
    {0x10, 0x27},  // BAR0-5
    {0x30, 0x33},  // Expansion ROM base address
    {0x3c, 0x3c},  // Interrupt Line
}};

std::uint16_t read_u16(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return static_cast<std::uint16_t>(bytes[offset] | bytes[offset + 1] << 8);  // config space is little-endian
}

Result<std::vector<std::uint8_t>> read_binary(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return errno_error(fmt::format("cannot read {}", path));
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(file), {});
}

// "start end flags" per line of <device>/resource (drivers/pci/pci-sysfs.c,
// resource_show): one line per BAR 0-5, then the ROM and bridge windows.
std::vector<std::string> bar_sizes(const std::string& resource_text) {
  std::vector<std::string> lines;
  std::istringstream stream(resource_text);
  std::string line;
  for (unsigned bar = 0; bar < 6 && std::getline(stream, line); ++bar) {
    std::istringstream fields(line);
    std::string start_text;
    std::string end_text;
    fields >> start_text >> end_text;
    const std::uint64_t start = std::strtoull(start_text.c_str(), nullptr, 16);
    const std::uint64_t end = std::strtoull(end_text.c_str(), nullptr, 16);
    if (start == 0 && end == 0) continue;  // unused BAR
    lines.push_back(fmt::format("bar{} size 0x{:x}", bar, end - start + 1));
  }
  return lines;
}

std::string read_id(const std::string& path) {
  auto text = detail::read_text_file(path);
  return text ? std::string(detail::trim(*text)) : std::string("absent");
}

}  // namespace

Result<Sha256> masked_header_digest(std::span<const std::uint8_t> config, std::string_view where) {
  if (config.size() < header_size) {
    return invalid_argument(fmt::format("{}: {} bytes of configuration space, the header needs 64", where,
                                        config.size()));
  }
  std::array<std::uint8_t, header_size> header{};
  std::copy_n(config.begin(), header_size, header.begin());
  for (const auto& [first, last] : volatile_ranges) {
    for (std::size_t i = first; i <= last; ++i) header[i] = 0;
  }
  return sha256(std::span<const std::uint8_t>(header));
}

std::vector<PciCapability> capability_list(std::span<const std::uint8_t> config) {
  std::vector<PciCapability> capabilities;
  if (config.size() < header_size || (config[status_offset] & status_capabilities_list) == 0) return capabilities;
  std::size_t offset = config[capabilities_pointer] & 0xfc;  // low 2 bits reserved
  while (offset >= header_size && offset + 1 < config.size() && capabilities.size() < max_capabilities) {
    capabilities.push_back(PciCapability{config[offset], static_cast<std::uint8_t>(offset)});
    offset = config[offset + 1] & 0xfc;
  }
  return capabilities;
}

unsigned msix_table_size(std::span<const std::uint8_t> config) {
  for (const PciCapability& capability : capability_list(config)) {
    if (capability.id != capability_msix || capability.offset + 3u >= config.size()) continue;
    return (read_u16(config, capability.offset + 2u) & 0x7ffu) + 1;  // Message Control, bits 10:0 = N-1
  }
  return 0;
}

Result<std::string> measure_device(const vfio::PciSysfs& pci, const vfio::PciAddress& address,
                                   const DriverViewReader& read_view) {
  AETHER_TRY(const vfio::PciFunction function, pci.read(address));
  const std::string path = pci.device_path(address);
  AETHER_TRY(const std::vector<std::uint8_t> config, read_binary(path + "/config"));
  AETHER_TRY(const Sha256 header, masked_header_digest(config, path + "/config"));
  std::string text;
  auto line = [&text](const std::string& value) { text += value + "\n"; };
  line("bdf " + address.to_string());
  line(fmt::format("id {:04x}:{:04x} subsystem {}:{} revision {} class 0x{:06x}", function.vendor, function.device,
                   read_id(path + "/subsystem_vendor"), read_id(path + "/subsystem_device"),
                   read_id(path + "/revision"), function.class_code));
  line("driver " + (function.driver.empty() ? std::string("none") : function.driver));
  line("config_header_sha256 " + to_hex(header));
  std::string capabilities;
  for (const PciCapability& capability : capability_list(config)) {
    capabilities += fmt::format(" 0x{:02x}@0x{:02x}", capability.id, capability.offset);
  }
  line("capabilities" + (capabilities.empty() ? std::string(" none") : capabilities));
  line(fmt::format("msix_table_size {}", msix_table_size(config)));
  auto resource = detail::read_text_file(path + "/resource");
  for (const auto& bar : bar_sizes(resource ? *resource : std::string())) line(bar);
  if (!function.iommu_group) {
    line("iommu_group none");
  } else {
    const unsigned group = *function.iommu_group;
    line(fmt::format("iommu_group {} type {}", group,
                     read_id(fmt::format("{}/kernel/iommu_groups/{}/type", pci.root(), group))));
    AETHER_TRY(const auto members, pci.iommu_group_members(group));
    std::string names;
    for (const auto& member : members) names += " " + member.to_string();
    line("iommu_group_members" + names);
  }
  text += format_driver_view(function, read_view(function));
  return text;
}

}  // namespace aether::attest
