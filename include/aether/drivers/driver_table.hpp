// The table of Aether's userspace NIC drivers, keyed by PCI vendor:device.
//
// A driver is one folder, src/drivers/<name>/, whose bring-up file defines
//
//     extern const aether::drivers::Driver <name>_driver = {...};
//
// and nothing else registers it: CMake lists the folders under src/drivers/
// and generates the table from them (src/drivers/driver_list.cpp.in), so
// adding a driver edits no shared file. The table is built at compile time
// (no static constructors, so no initialisation order and no archive member
// dropped by the linker, the traps of constructor-based registration).
//
// The `vfio:` backend looks the device's IDs up here and opens the port
// through the entry; `aether devices` names the driver from the same table.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "aether/core/result.hpp"
#include "aether/drivers/vfio_port.hpp"
#include "aether/net/port.hpp"

namespace aether::drivers {

struct PciId {
  std::uint16_t vendor = 0;
  std::uint16_t device = 0;
};

// A driver's bring-up: takes an open VFIO session (device reset, bus master
// not yet enabled) and the pool, returns the started port. Errors name what
// the device did not offer or did not do; the backend prefixes the spec.
using OpenPort = Result<std::unique_ptr<net::Port>> (*)(VfioPortContext context);

struct Driver {
  std::string_view name;         // as printed: "virtio-net", "e1000e (82574)"
  std::span<const PciId> ids;    // every vendor:device it drives
  OpenPort open = nullptr;
};

// Every registered driver, in folder-name order.
[[nodiscard]] std::span<const Driver* const> driver_table() noexcept;

// The driver for vendor:device, or nullptr when Aether has none.
[[nodiscard]] const Driver* find_driver(std::uint16_t vendor, std::uint16_t device) noexcept;

// As find_driver, but an unknown ID is an error that names it and lists
// what the table holds: "1af4:1042 is not a device Aether drives: it has
// drivers for virtio-net (1af4:1041, 1af4:1000) and ...".
[[nodiscard]] Result<const Driver*> driver_for(std::uint16_t vendor, std::uint16_t device);

// "virtio-net (1af4:1041, 1af4:1000), e1000e (82574) (8086:10d3)": the table
// in one line, for messages.
[[nodiscard]] std::string describe_driver_table();

}  // namespace aether::drivers
