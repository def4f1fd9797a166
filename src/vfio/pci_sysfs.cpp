#include "aether/vfio/pci_sysfs.hpp"

#include <dirent.h>

#include <algorithm>
#include <charconv>

#include "sysfs_file.hpp"

namespace aether::vfio {
namespace {

// Entry names of a directory, without "." and ".."; nullopt if it cannot be opened.
std::optional<std::vector<std::string>> list_directory(const std::string& path) {
  DIR* directory = ::opendir(path.c_str());
  if (directory == nullptr) return std::nullopt;
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(directory)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(directory);
  std::sort(names.begin(), names.end());
  return names;
}

// sysfs prints IDs as "0x8086" and class as "0x020000".
Result<std::uint32_t> read_hex_file(const std::string& path) {
  auto text = detail::read_text_file(path);
  if (!text) return std::move(text).error();
  std::string_view digits = *text;
  if (digits.starts_with("0x")) digits.remove_prefix(2);
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
    return invalid_argument(fmt::format("{} holds '{}', not a hex number", path, *text));
  }
  return value;
}

}  // namespace

std::string PciSysfs::device_path(const PciAddress& address) const {
  return fmt::format("{}/bus/pci/devices/{}", root_, address.to_string());
}

Result<PciFunction> PciSysfs::read(const PciAddress& address) const {
  const std::string path = device_path(address);
  if (!detail::path_exists(path)) {
    return invalid_argument(fmt::format("no PCI device {} ({} does not exist; `aether devices` lists them)",
                                        address.to_string(), path));
  }
  PciFunction function;
  function.address = address;
  auto class_code = read_hex_file(path + "/class");
  if (!class_code) return std::move(class_code).error();
  auto vendor = read_hex_file(path + "/vendor");
  if (!vendor) return std::move(vendor).error();
  auto device = read_hex_file(path + "/device");
  if (!device) return std::move(device).error();
  function.class_code = *class_code;
  function.vendor = static_cast<std::uint16_t>(*vendor);
  function.device = static_cast<std::uint16_t>(*device);
  function.driver = detail::link_basename(path + "/driver").value_or("");
  if (auto override_text = detail::read_text_file(path + "/driver_override");
      override_text && *override_text != "(null)") {
    function.driver_override = *override_text;
  }
  if (auto group = detail::link_basename(path + "/iommu_group")) {
    unsigned number = 0;
    const auto [end, error] = std::from_chars(group->data(), group->data() + group->size(), number);
    if (error == std::errc() && end == group->data() + group->size()) function.iommu_group = number;
  }
  if (auto node = detail::read_text_file(path + "/numa_node")) {
    int value = -1;
    const auto [end, error] = std::from_chars(node->data(), node->data() + node->size(), value);
    if (error == std::errc()) function.numa_node = value;
  }
  // Network interfaces sit in <device>/net/, or one level down for bus
  // drivers that create a child device (virtio-pci: <device>/virtio0/net/).
  function.netdevs = list_directory(path + "/net").value_or(std::vector<std::string>{});
  for (const auto& child : list_directory(path).value_or(std::vector<std::string>{})) {
    if (!child.starts_with("virtio")) continue;
    for (auto& netdev : list_directory(path + "/" + child + "/net").value_or(std::vector<std::string>{})) {
      function.netdevs.push_back(std::move(netdev));
    }
  }
  if (auto cdevs = list_directory(path + "/vfio-dev"); cdevs && !cdevs->empty()) function.vfio_cdev = cdevs->front();
  return function;
}

Result<std::vector<PciFunction>> PciSysfs::list() const {
  const std::string path = root_ + "/bus/pci/devices";
  auto names = list_directory(path);
  if (!names) return errno_error(fmt::format("cannot list {}", path));
  std::vector<PciFunction> functions;
  for (const auto& name : *names) {
    auto address = PciAddress::parse(name);
    if (!address) continue;  // not a BDF: ignore stray entries
    auto function = read(*address);
    if (!function) return std::move(function).error();
    functions.push_back(std::move(*function));
  }
  return functions;
}

Result<std::vector<PciAddress>> PciSysfs::iommu_group_members(unsigned group) const {
  const std::string path = fmt::format("{}/kernel/iommu_groups/{}/devices", root_, group);
  auto names = list_directory(path);
  if (!names) return errno_error(fmt::format("cannot list {}", path));
  std::vector<PciAddress> members;
  for (const auto& name : *names) {
    if (auto address = PciAddress::parse(name)) members.push_back(*address);
  }
  return members;
}

bool PciSysfs::iommu_present() const {
  const auto units = list_directory(root_ + "/class/iommu");
  const auto groups = list_directory(root_ + "/kernel/iommu_groups");
  return (units && !units->empty()) || (groups && !groups->empty());
}

bool PciSysfs::vfio_pci_loaded() const { return detail::path_exists(root_ + "/bus/pci/drivers/vfio-pci"); }

}  // namespace aether::vfio
