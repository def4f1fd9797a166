// `aether-vfio-probe --send-arp [--hold S]` on an 82574: "vfio:BDF" opened
// through net::open_port, the path `aether echo vfio:BDF` takes (the vfio
// backend picks Aether's e1000e driver by PCI ID), then the ARP exchange
// and the fault watch of vfio_probe_port_arp.cpp.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "aether/mem/mempool.hpp"
#include "aether/net/port_registry.hpp"
#include "vfio_probe.hpp"

namespace aether::vfio_probe {

int run_e1000e_arp(const vfio::PciAddress& address, double hold_seconds) {
  auto config = net::default_packet_pool_config(1024, "aether-e1000e-probe");
  config.region.use_hugepages = false;  // 4 MiB; the guest has no hugepages reserved
  auto pool = mem::Mempool::create(config);
  if (!pool) {
    fmt::print(stderr, "aether-vfio-probe: {}\n", pool.error().describe());
    return exit_failure;
  }
  // The exchange alone runs in interrupt mode, so that the reply's MSI-X
  // interrupt is seen on the eventfd; the fault watch (--hold) polls, as a
  // busy data plane does.
  const bool interrupt_mode = hold_seconds <= 0;
  const std::string spec = "vfio:" + address.to_string() + (interrupt_mode ? "?mode=interrupt" : "");
  auto port = net::open_port(spec, net::PortOptions{pool->get(), 0});
  if (!port) {
    fmt::print(stderr, "aether-vfio-probe: {}\n", port.error().describe());
    return exit_failure;
  }
  net::Queue& queue = (*port)->queue(0);
  queue.set_rx_interrupt(true);  // one-shot: masked again by the interrupt itself (EIAC)
  const PortArpResult result = exchange_arp_through_port(**port, **pool, "e1000e", hold_seconds);
  if (interrupt_mode) {
    fmt::print("e1000e: receive queue interrupts on eventfd: {}\n", wait_for_rx_interrupts(queue, 1000));
  }
  (*port).reset();  // device reset, rings and pool unmapped, session closed
  fmt::print("e1000e: port closed, {} of {} buffers back in the pool\n", (*pool)->available(), (*pool)->capacity());
  if (!result.sent || !result.answered) {
    fmt::print(stderr, "aether-vfio-probe: e1000e ARP exchange incomplete (sent {}, answered {})\n", result.sent,
               result.answered);
    return exit_failure;
  }
  return exit_ok;
}

}  // namespace aether::vfio_probe
