// The contract between the `vfio:` port backend (src/backends/vfio) and the
// userspace NIC drivers (src/drivers/<name>): the backend parses the spec,
// opens the device through VFIO and picks the driver by PCI ID from the
// driver table (driver_table.hpp); the driver
// maps the packet pool and its rings for DMA, brings the device up and
// returns it as an ordinary net::Port, so `aether echo/fwd/bench` use it
// unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aether/core/result.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port.hpp"
#include "aether/vfio/device_session.hpp"

namespace aether::drivers {

// IOVAs a driver uses in its device's own IO address space (one per
// device session). The pool's region goes at pool_iova, the rings and
// other driver-owned DMA memory at ring_iova; both far below the 39-bit
// address width of QEMU's intel-iommu and of most real IOMMUs.
inline constexpr std::uint64_t pool_iova = 1ULL << 32;
inline constexpr std::uint64_t ring_iova = 1ULL << 30;

// How the device is driven: `poll` (busy polling, the default) or
// `interrupt` (the queue's MSI-X vector goes to an eventfd, so an idle
// worker can sleep on it; see net::Queue::rx_interrupt_fd).
enum class CompletionMode { poll, interrupt };

struct VfioPortOptions {
  std::uint16_t queue_size = 256;  // descriptors per ring (power of two)
  CompletionMode completion = CompletionMode::poll;
};

// Everything the backend hands a driver. The driver owns the session from
// here on and must stop the device's DMA (reset) before it unmaps memory.
struct VfioPortContext {
  std::string spec;                                 // as given, for PortInfo and messages
  std::unique_ptr<vfio::DeviceSession> session;     // open, device reset
  mem::Mempool* pool = nullptr;                     // rx buffers; must outlive the port
  std::uint16_t port_id = 0;                        // stamped into Packet::port on rx
  VfioPortOptions options;
};

}  // namespace aether::drivers
