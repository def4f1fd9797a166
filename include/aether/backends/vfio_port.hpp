// vfio: a PCI NIC handed to Aether through VFIO and driven by Aether's own
// userspace driver (src/drivers/<name>), behind the IOMMU.
//
//   vfio:DDDD:BB:DD.F[?queue_size=N&mode=poll|interrupt]
//
//   DDDD:BB:DD.F  the PCI address (the short BB:DD.F means domain 0000);
//                 the device must be bound to vfio-pci (`aether bind BDF`)
//   queue_size    descriptors per ring, a power of two in 16..4096
//                 (default 256)
//   mode          poll (default): the worker busy-polls the rings;
//                 interrupt: the receive queue's MSI-X vector goes to an
//                 eventfd, so an idle worker can sleep on it
//
// The driver is chosen by PCI ID (vfio::driver_for): virtio-net (1af4:1041,
// 1af4:1000) or the Intel 82574 (8086:10d3). Opening resets the device,
// maps the port's pool at drivers::pool_iova and the rings at
// drivers::ring_iova; closing resets it before anything is unmapped.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "aether/core/result.hpp"
#include "aether/drivers/vfio_port.hpp"
#include "aether/net/port.hpp"
#include "aether/net/port_spec.hpp"
#include "aether/vfio/pci_address.hpp"

namespace aether::backends {

struct VfioSpec {
  vfio::PciAddress address;
  drivers::VfioPortOptions options;
};

// Parses the address and parameters of a vfio spec. Errors name the spec,
// the bad part and what is allowed. Pure: no device access.
[[nodiscard]] Result<VfioSpec> parse_vfio_spec(const net::PortSpec& spec);

// Opens the device and hands it to its driver. Errors say what to do: the
// device is missing, not a NIC Aether drives, not bound to vfio-pci (run
// `aether bind BDF`), has no IOMMU group or shares a non-viable one, or
// the driver's own refusal (feature missing, queue too large...).
[[nodiscard]] Result<std::unique_ptr<net::Port>> open_vfio_port(const net::PortSpec& spec,
                                                                const net::PortOptions& options);

inline constexpr std::string_view vfio_synopsis = "vfio:DDDD:BB:DD.F[?queue_size=N&mode=poll|interrupt]";
inline constexpr std::string_view vfio_summary =
    "userspace NIC driver over VFIO behind the IOMMU: virtio-net (modern) or Intel 82574; `aether bind BDF` first";

}  // namespace aether::backends
