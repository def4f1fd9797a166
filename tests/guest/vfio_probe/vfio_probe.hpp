// `aether-vfio-probe BDF`: opens a device bound to vfio-pci through the
// VFIO layer and exercises it without driving it: device and region info,
// config space, BAR mmap, a DMA mapping, MSI-X setup, reset. A tool of the
// guest tests (tests/guest/vfio_guest_test.cpp), not of the product CLI;
// also usable to diagnose a host.
#pragma once

#include <array>
#include <cstdint>

#include "aether/core/result.hpp"
#include "aether/drivers/virtio_net/common_config.hpp"
#include "aether/mem/memory_region.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port.hpp"
#include "aether/vfio/dma_mapping.hpp"
#include "aether/drivers/virtio_net/pci_capabilities.hpp"
#include "aether/vfio/device.hpp"
#include "aether/vfio/device_session.hpp"
#include "aether/vfio/io_address_space.hpp"

namespace aether::vfio_probe {

// Exit codes: 0 when every step passed, 1 when one failed (message on stderr).
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;

// A 2 MiB region of normal pages DMA-mapped at `iova`. Members in this
// order so that the mapping goes before the memory.
struct MappedRegion {
  mem::MemoryRegion region;
  vfio::DmaMapping mapping;
};
[[nodiscard]] Result<MappedRegion> map_probe_region(vfio::IoAddressSpace& space, std::uint64_t iova,
                                                    const char* name);

// An ARP request (RFC 826) for 10.0.2.2 from 10.0.2.15 (QEMU user
// networking's gateway and guest address) into `frame`; returns its length
// (60, padded to the Ethernet minimum).
std::size_t write_arp_request(std::byte* frame, const std::array<std::uint8_t, 6>& mac);
// `--send-arp` through an opened port, any driver (vfio_probe_port_arp.cpp):
// prints the port's info, sends the ARP request for 10.0.2.2 and waits up
// to 5 s for the reply, then polls for `hold_seconds` while watching
// device_fault(), and prints the port's counters. Every line starts with
// `label` ("e1000e", "virtio"). The caller closes the port.
struct PortArpResult {
  bool sent = false;
  bool answered = false;
  bool fault_seen = false;
};
PortArpResult exchange_arp_through_port(net::Port& port, mem::Mempool& pool, const char* label, double hold_seconds);

// Interrupts counted on the queue's receive eventfd, waiting up to
// `patience_ms` for the first: the poller can see a frame's descriptor
// before the MSI-X message that follows it has reached the eventfd.
std::uint64_t wait_for_rx_interrupts(net::Queue& queue, int patience_ms);
// `--send-arp` on an 82574 (vfio_probe_e1000e_arp.cpp): opens "vfio:BDF"
// through net::open_port, as `aether echo` does (its own session: run it
// after the probe's session closed), then exchange_arp_through_port, and
// closes the port. Returns an exit code.
int run_e1000e_arp(const vfio::PciAddress& address, double hold_seconds);
// True for an ARP reply whose sender is 10.0.2.2.
bool is_gateway_arp_reply(const std::uint8_t* frame, std::size_t length);

// `--send-arp` (vfio_probe_arp.cpp): sets up receiveq1/transmitq1 of a
// virtio-net device negotiated to FEATURES_OK, sends an ARP request for
// 10.0.2.2 (QEMU user networking) and waits for the reply; resets the
// device before returning. With `fault_test` the receive buffers are at
// unmapped IOVAs: success is no reply and untouched memory (the guest
// kernel logs the IOMMU fault). Returns an exit code.
int run_virtio_arp(vfio::Device& device, vfio::IoAddressSpace& space,
                   const drivers::virtio_net::VirtioPciLayout& layout,
                   const drivers::virtio_net::CommonConfig& common, vfio::BarMapping& common_bar,
                   const std::array<std::uint8_t, 6>& mac, std::uint64_t iova, bool fault_test);
// `--send-arp` on virtio-net (vfio_probe_arp.cpp): opens "vfio:BDF?mode=
// interrupt" through net::open_port (its own session: run it after the
// probe's session closed), ARP out and in through the port's bursts, the
// receive interrupt's eventfd count, then `hold_seconds` of polling while
// device_fault() is watched; prints the port's counters and closes it.
// Returns an exit code.
int run_virtio_port_arp(const vfio::PciAddress& address, double hold_seconds);

}  // namespace aether::vfio_probe
