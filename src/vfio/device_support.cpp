#include "aether/vfio/device_support.hpp"

#include <fmt/format.h>

namespace aether::vfio {

DriverKind driver_for(std::uint16_t vendor, std::uint16_t device) noexcept {
  // The vfio-probe's copy of the driver table's IDs (see the header).
  if (vendor == 0x1af4 && (device == 0x1041 || device == 0x1000)) return DriverKind::virtio_net;
  if (vendor == 0x8086 && device == 0x10d3) return DriverKind::e1000e;
  return DriverKind::none;
}

SupportVerdict assess_support(const PciFunction& function, const std::vector<NetdevUsage>& netdevs,
                              bool iommu_present, std::string_view driver) {
  SupportVerdict verdict;
  verdict.driver = driver;
  verdict.bound_to_vfio = function.driver == "vfio-pci";
  std::string users;
  for (const auto& netdev : netdevs) {
    if (!netdev.in_use()) continue;
    verdict.in_use = true;
    if (!users.empty()) users += ", ";
    users += fmt::format("{} is up with {} route(s){}", netdev.name, netdev.route_count,
                         netdev.default_route ? " including the default route" : "");
  }
  if (verdict.driver.empty()) {
    verdict.summary = "no: Aether has no driver for this device";
    return verdict;
  }
  // Everything that stands in the way, most important first: a device the
  // host depends on is reported as such whatever else is missing.
  std::vector<std::string> obstacles;
  if (verdict.in_use && !verdict.bound_to_vfio) {
    obstacles.push_back(fmt::format("in use by the host ({}), not bindable without --force", users));
  }
  if (!iommu_present) {
    obstacles.emplace_back("no IOMMU active (boot with intel_iommu=on or amd_iommu=on)");
  } else if (!function.iommu_group) {
    obstacles.emplace_back("the device has no IOMMU group");
  }
  if (obstacles.empty()) {
    verdict.bindable = true;
    verdict.summary = verdict.bound_to_vfio
                          ? fmt::format("yes ({}; bound to vfio-pci)", verdict.driver)
                          : fmt::format("yes ({}; `aether bind {}` first)", verdict.driver,
                                        function.address.to_string());
    return verdict;
  }
  verdict.summary = fmt::format("no ({} driver exists): ", verdict.driver);
  for (std::size_t i = 0; i < obstacles.size(); ++i) verdict.summary += (i == 0 ? "" : "; ") + obstacles[i];
  return verdict;
}

}  // namespace aether::vfio
