// One passthrough device as canonical text (the event "device.<BDF>").
//
// Lines: identity (vendor, device, subsystem vendor and device, revision,
// class), driver, a SHA-256 of the type-0 configuration header with the
// volatile bytes zeroed, the capability list (ID@offset), the MSI-X table
// size, each BAR's size, the IOMMU group, its translation type and members,
// and last the registers Aether's driver reads (driver_view.hpp).
//
// Masked bytes of the header (PCI Local Bus 3.0, 6.1 / figure 6-1), because
// the OS or the device change them at run time: 0x04-0x05 Command (memory,
// bus-master enable), 0x06-0x07 Status (error and interrupt bits),
// 0x0C Cache Line Size and 0x0D Latency Timer (written by firmware/OS),
// 0x10-0x27 BAR0-5 (addresses assigned by firmware; sizes are measured from
// sysfs `resource` instead), 0x30-0x33 Expansion ROM BAR, 0x3C Interrupt
// Line. Capability bodies (MSI address/data, MSI-X enable, PM and PCIe
// control/status) are volatile too: only their IDs, offsets and the MSI-X
// table size (Message Control bits 10:0 + 1, PCI 3.0, 6.8.2.3) are measured.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aether/attest/digest.hpp"
#include "aether/attest/driver_view.hpp"
#include "aether/core/result.hpp"
#include "aether/vfio/pci_address.hpp"
#include "aether/vfio/pci_sysfs.hpp"

namespace aether::attest {

// The header (first 64 bytes) with the volatile bytes above zeroed; the Error
// names `where` when fewer than 64 bytes were read.
Result<Sha256> masked_header_digest(std::span<const std::uint8_t> config, std::string_view where);

struct PciCapability {
  std::uint8_t id = 0;
  std::uint8_t offset = 0;
};
// The standard capability list from 0x34 (Status bit 4 says it exists),
// stopping at the end of what was read and after 48 entries (a loop).
std::vector<PciCapability> capability_list(std::span<const std::uint8_t> config);
// MSI-X table size, 0 when the device has no MSI-X capability (ID 0x11).
unsigned msix_table_size(std::span<const std::uint8_t> config);

// Reads <device>/config, resource, the IDs and the group through `pci`,
// then what the driver reads from the device through `read_view`
// (driver_view.hpp; called for every device, it decides what to read).
Result<std::string> measure_device(const vfio::PciSysfs& pci, const vfio::PciAddress& address,
                                   const DriverViewReader& read_view);

}  // namespace aether::attest
