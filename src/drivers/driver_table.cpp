// Lookups in the driver table; the table itself is generated from the
// folders under src/drivers/ (driver_list.cpp.in, src/CMakeLists.txt).
#include "aether/drivers/driver_table.hpp"

#include <fmt/format.h>

namespace aether::drivers {

const Driver* find_driver(std::uint16_t vendor, std::uint16_t device) noexcept {
  for (const Driver* driver : driver_table()) {
    for (const PciId& id : driver->ids) {
      if (id.vendor == vendor && id.device == device) return driver;
    }
  }
  return nullptr;
}

std::string describe_driver_table() {
  std::string text;
  for (const Driver* driver : driver_table()) {
    std::string ids;
    for (const PciId& id : driver->ids) ids += fmt::format("{}{:04x}:{:04x}", ids.empty() ? "" : ", ", id.vendor, id.device);
    text += fmt::format("{}{} ({})", text.empty() ? "" : ", ", driver->name, ids);
  }
  return text.empty() ? "none" : text;
}

Result<const Driver*> driver_for(std::uint16_t vendor, std::uint16_t device) {
  if (const Driver* driver = find_driver(vendor, device)) return driver;
  return invalid_argument(fmt::format("{:04x}:{:04x} is not a device Aether drives: it has drivers for {}", vendor,
                                      device, describe_driver_table()));
}

}  // namespace aether::drivers
