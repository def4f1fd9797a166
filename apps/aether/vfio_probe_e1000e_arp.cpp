// `aether vfio-probe --send-arp` on an 82574: one receive and one transmit
// ring of legacy descriptors (../shared/specs/e1000e-82574.md, "Minimal
// bring-up"), an ARP request for 10.0.2.2 out, the reply in.
#include <fmt/format.h>

#include <chrono>
#include <cstring>

#include "aether/drivers/e1000e/registers.hpp"
#include "aether/drivers/mmio.hpp"
#include "vfio_probe.hpp"

namespace aether::cli {
namespace {

namespace e1000e = drivers::e1000e;
namespace reg = drivers::e1000e::reg;
using drivers::mmio::read32;
using drivers::mmio::write32;

constexpr std::size_t ring_entries = 32;  // a multiple of 8; 512 bytes, a multiple of 128
constexpr std::size_t buffer_size = 2048;
constexpr std::size_t receive_ring_offset = 0;
constexpr std::size_t transmit_ring_offset = 4096;
constexpr std::size_t receive_buffers_offset = 64 * 1024;
constexpr std::size_t transmit_buffer_offset = receive_buffers_offset + ring_entries * buffer_size;

}  // namespace

int run_e1000e_arp(vfio::IoAddressSpace& space, volatile std::byte* bar0, const std::array<std::uint8_t, 6>& mac,
                   std::uint64_t iova) {
  auto mapped = map_probe_region(space, iova, "aether-e1000e-arp");
  if (!mapped) {
    fmt::print(stderr, "aether vfio-probe: {}\n", mapped.error().describe());
    return exit_failure;
  }
  std::byte* base = mapped->region.base();
  auto* receive_ring = reinterpret_cast<e1000e::LegacyRxDesc*>(base + receive_ring_offset);
  auto* transmit_ring = reinterpret_cast<e1000e::LegacyTxDesc*>(base + transmit_ring_offset);

  for (std::size_t i = 0; i < 128; ++i) write32(bar0, reg::multicast_table + 4 * i, 0);
  for (std::size_t i = 0; i < ring_entries; ++i) {
    receive_ring[i] = e1000e::LegacyRxDesc{iova + receive_buffers_offset + i * buffer_size, 0, 0, 0, 0, 0};
  }
  const std::uint64_t receive_ring_iova = iova + receive_ring_offset;
  write32(bar0, reg::rdbal, static_cast<std::uint32_t>(receive_ring_iova));
  write32(bar0, reg::rdbah, static_cast<std::uint32_t>(receive_ring_iova >> 32));
  write32(bar0, reg::rdlen, ring_entries * sizeof(e1000e::LegacyRxDesc));
  write32(bar0, reg::rdh, 0);
  write32(bar0, reg::rdt, ring_entries - 1);  // all but one descriptor belong to the device
  write32(bar0, reg::rctl, e1000e::rctl::enable | e1000e::rctl::broadcast_accept | e1000e::rctl::strip_crc);

  const std::uint64_t transmit_ring_iova = iova + transmit_ring_offset;
  write32(bar0, reg::tdbal, static_cast<std::uint32_t>(transmit_ring_iova));
  write32(bar0, reg::tdbah, static_cast<std::uint32_t>(transmit_ring_iova >> 32));
  write32(bar0, reg::tdlen, ring_entries * sizeof(e1000e::LegacyTxDesc));
  write32(bar0, reg::tdh, 0);
  write32(bar0, reg::tdt, 0);
  write32(bar0, reg::tctl, e1000e::tctl::enable | e1000e::tctl::pad_short_packets | e1000e::tctl::collision_threshold |
                               e1000e::tctl::collision_distance);
  write32(bar0, reg::tipg, e1000e::tipg_default);

  const std::size_t frame_length = write_arp_request(base + transmit_buffer_offset, mac);
  transmit_ring[0] = e1000e::LegacyTxDesc{iova + transmit_buffer_offset, static_cast<std::uint16_t>(frame_length), 0,
                                          static_cast<std::uint8_t>(e1000e::tx_command_eop |
                                                                    e1000e::tx_command_insert_fcs |
                                                                    e1000e::tx_command_report_status),
                                          0, 0, 0};
  write32(bar0, reg::tdt, 1);  // the doorbell: mmio::write32 orders the descriptor store before it

  bool sent = false;
  bool answered = false;
  std::size_t next_receive = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!(sent && answered) && std::chrono::steady_clock::now() < deadline) {
    std::atomic_signal_fence(std::memory_order_seq_cst);  // re-read descriptors the device writes by DMA
    if (!sent && (reinterpret_cast<volatile std::uint8_t&>(transmit_ring[0].status) & e1000e::descriptor_done) != 0) {
      sent = true;
      fmt::print("e1000e: transmitted ARP request ({} bytes) for 10.0.2.2\n", frame_length);
    }
    const volatile e1000e::LegacyRxDesc& descriptor = receive_ring[next_receive];
    if ((descriptor.status & e1000e::descriptor_done) != 0) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
      const auto* frame = reinterpret_cast<const std::uint8_t*>(base + receive_buffers_offset + next_receive * buffer_size);
      const std::size_t length = descriptor.length;
      fmt::print("e1000e: received {} bytes, EtherType {:02x}{:02x}\n", length, frame[12], frame[13]);
      if (is_gateway_arp_reply(frame, length)) {
        fmt::print("e1000e: ARP reply: 10.0.2.2 is at {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\n", frame[22], frame[23],
                   frame[24], frame[25], frame[26], frame[27]);
        answered = true;
      }
      next_receive = (next_receive + 1) % ring_entries;
    }
  }
  // Stop both directions before the mapping goes away.
  write32(bar0, reg::rctl, 0);
  write32(bar0, reg::tctl, 0);
  (void)read32(bar0, reg::status);  // flush the posted writes
  if (!sent || !answered) {
    fmt::print(stderr, "aether vfio-probe: e1000e ARP exchange incomplete (sent {}, answered {})\n", sent, answered);
    return exit_failure;
  }
  return exit_ok;
}

}  // namespace aether::cli
