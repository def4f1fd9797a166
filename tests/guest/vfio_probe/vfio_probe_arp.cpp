// `aether-vfio-probe --send-arp` / `--fault-test` on virtio-net.
//
// --send-arp goes through the virtio-net port (open_port("vfio:BDF"), the
// same path as `aether echo vfio:BDF`): an ARP request for the QEMU
// user-network gateway 10.0.2.2 out through tx_burst, the reply in through
// rx_burst (exchange_arp_through_port, shared with the e1000e probe), in
// interrupt mode so that the receive queue's MSI-X vector is seen reaching
// its eventfd; with --hold the port then keeps polling while device_fault()
// is watched (a guest test resets the device underneath).
//
// --fault-test stays on raw queues (run_virtio_arp): it needs receive
// buffers at IOVAs that were never mapped, which a port never posts.
#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>

#include "aether/drivers/mmio.hpp"
#include "aether/drivers/virtio_net/registers.hpp"
#include "aether/drivers/virtio_net/split_queue.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port_registry.hpp"
#include "aether/vfio/msix.hpp"
#include "vfio_probe.hpp"

namespace aether::vfio_probe {
namespace {

namespace virtio = drivers::virtio_net;

constexpr std::uint16_t receive_queue = 0;   // receiveq1 (5.1.2)
constexpr std::uint16_t transmit_queue = 1;  // transmitq1
constexpr std::uint16_t queue_entries = 64;
constexpr std::uint16_t receive_buffers = 16;
constexpr std::size_t buffer_size = 2048;
constexpr std::size_t net_header_size = 12;  // virtio_net_hdr with VERSION_1 (5.1.6)
// Region layout: two queues, then receive buffers, then the transmit buffer.
constexpr std::size_t receive_queue_offset = 0;
constexpr std::size_t transmit_queue_offset = 64 * 1024;
constexpr std::size_t receive_buffers_offset = 1024 * 1024;
constexpr std::size_t transmit_buffer_offset = receive_buffers_offset + receive_buffers * buffer_size;
static_assert(virtio::layout_for(queue_entries).total <= transmit_queue_offset);

}  // namespace

// ARP request (RFC 826) for 10.0.2.2 from 10.0.2.15, QEMU slirp's defaults.
std::size_t write_arp_request(std::byte* frame, const std::array<std::uint8_t, 6>& mac) {
  const std::array<std::uint8_t, 4> sender_ip{10, 0, 2, 15};
  const std::array<std::uint8_t, 4> target_ip{10, 0, 2, 2};
  std::uint8_t* out = reinterpret_cast<std::uint8_t*>(frame);
  std::memset(out, 0xff, 6);                                // destination: broadcast
  std::memcpy(out + 6, mac.data(), 6);                      // source
  out[12] = 0x08, out[13] = 0x06;                           // EtherType ARP
  const std::uint8_t header[8] = {0, 1, 8, 0, 6, 4, 0, 1};  // Ethernet, IPv4, 6, 4, request
  std::memcpy(out + 14, header, 8);
  std::memcpy(out + 22, mac.data(), 6);
  std::memcpy(out + 28, sender_ip.data(), 4);
  std::memset(out + 32, 0, 6);
  std::memcpy(out + 38, target_ip.data(), 4);
  std::memset(out + 42, 0, 18);  // pad to the 60-byte minimum
  return 60;
}

Result<MappedRegion> map_probe_region(vfio::IoAddressSpace& space, std::uint64_t iova, const char* name) {
  mem::RegionOptions options;
  options.required_bytes = 2U << 20;
  options.use_hugepages = false;
  options.name = name;
  auto region = mem::MemoryRegion::create(options);
  if (!region) return std::move(region).error();
  auto mapping = vfio::DmaMapping::create(space, *region, iova);
  if (!mapping) return std::move(mapping).error();
  return MappedRegion{std::move(*region), std::move(*mapping)};
}

bool is_gateway_arp_reply(const std::uint8_t* frame, std::size_t length) {
  return length >= 42 && frame[12] == 0x08 && frame[13] == 0x06 && frame[21] == 2 && frame[28] == 10 &&
         frame[29] == 0 && frame[30] == 2 && frame[31] == 2;
}

int run_virtio_arp(vfio::Device& device, vfio::IoAddressSpace& space, const virtio::VirtioPciLayout& layout,
                   const virtio::CommonConfig& common, vfio::BarMapping& common_bar,
                   const std::array<std::uint8_t, 6>& mac, std::uint64_t iova, bool fault_test) {
  auto mapped = map_probe_region(space, iova, "aether-virtio-arp");
  if (!mapped) {
    fmt::print(stderr, "aether-vfio-probe: {}\n", mapped.error().describe());
    return exit_failure;
  }
  std::byte* base = mapped->region.base();

  // The notification area may sit in another BAR than the common config.
  vfio::BarMapping notify_mapping;
  volatile std::byte* notify_base = nullptr;
  if (layout.notify.bar == layout.common.bar) {
    notify_base = common_bar.base() + layout.notify.offset;
  } else {
    auto notify_bar = device.map_bar(layout.notify.bar);
    if (!notify_bar) {
      fmt::print(stderr, "aether-vfio-probe: {}\n", notify_bar.error().describe());
      return exit_failure;
    }
    notify_mapping = std::move(*notify_bar);
    notify_base = notify_mapping.base() + layout.notify.offset;
  }

  // One MSI-X vector for the receive queue: after the reply arrives its
  // eventfd must have counted an interrupt (MSI-X through VFIO and the
  // IOMMU's interrupt remapping).
  auto vectors = vfio::MsixVectors::enable(device, 1);
  if (!vectors) {
    fmt::print(stderr, "aether-vfio-probe: {}\n", vectors.error().describe());
    return exit_failure;
  }

  std::array<virtio::SplitQueue, 2> queues;
  std::array<std::uint16_t, 2> notify_offsets{};
  for (std::uint16_t index : {receive_queue, transmit_queue}) {
    const std::uint16_t max_size = common.select_queue(index);
    if (max_size < queue_entries) {
      fmt::print(stderr, "aether-vfio-probe: queue {} offers {} entries, {} needed\n", index, max_size, queue_entries);
      return exit_failure;
    }
    const std::size_t offset = index == receive_queue ? receive_queue_offset : transmit_queue_offset;
    queues[index] = virtio::SplitQueue(base + offset, iova + offset, queue_entries);
    const std::uint16_t vector = index == receive_queue ? 0 : virtio::common_cfg::no_vector;
    notify_offsets[index] = common.configure_selected_queue(queue_entries, queues[index].descriptors_iova(),
                                                            queues[index].available_iova(), queues[index].used_iova(),
                                                            vector);
    if (common.selected_queue_vector() != vector) {
      fmt::print(stderr, "aether-vfio-probe: queue {} did not accept MSI-X vector {}\n", index, vector);
      return exit_failure;
    }
  }
  namespace status = virtio::device_status;
  common.set_status(status::acknowledge | status::driver | status::features_ok | status::driver_ok);
  const auto notify = [&](std::uint16_t index) {
    // 4.1.4.4: queue_notify_off * notify_off_multiplier within the area;
    // without NOTIFICATION_DATA the value is the queue index.
    drivers::mmio::write16(notify_base, std::size_t{notify_offsets[index]} * layout.notify_off_multiplier, index);
  };

  // Fault test: the receive buffers point at IOVAs that were never mapped
  // (1 GiB above the region); the device's write of the reply must end in
  // an IOMMU fault. A canary over the real buffers shows nothing landed in
  // Aether's memory instead.
  constexpr std::uint64_t unmapped_distance = 1ULL << 30;
  constexpr std::byte canary{0xa5};
  std::memset(base + receive_buffers_offset, static_cast<int>(canary), receive_buffers * buffer_size);
  const std::uint64_t receive_iova = iova + receive_buffers_offset + (fault_test ? unmapped_distance : 0);
  for (std::uint16_t slot = 0; slot < receive_buffers; ++slot) {
    queues[receive_queue].add_buffer(slot, receive_iova + slot * buffer_size, buffer_size, true);
  }
  queues[receive_queue].publish();
  notify(receive_queue);

  std::byte* transmit_buffer = base + transmit_buffer_offset;
  std::memset(transmit_buffer, 0, net_header_size);  // no offloads; num_buffers 0 on transmit
  const std::size_t frame_length = write_arp_request(transmit_buffer + net_header_size, mac);
  queues[transmit_queue].add_buffer(0, iova + transmit_buffer_offset,
                                    static_cast<std::uint32_t>(net_header_size + frame_length), false);
  queues[transmit_queue].publish();
  notify(transmit_queue);

  bool sent = false;
  bool answered = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool device_error = false;
  while (!(sent && answered) && !device_error && std::chrono::steady_clock::now() < deadline) {
    // 2.1.2: the device sets DEVICE_NEEDS_RESET when it hit an error it
    // cannot recover from (QEMU: a buffer address it could not map).
    device_error = (common.status() & status::device_needs_reset) != 0;
    virtio::VirtqUsedElem element{};
    if (queues[transmit_queue].take_used(element)) {
      sent = true;
      fmt::print("virtio: transmitted ARP request ({} bytes) for 10.0.2.2\n", frame_length);
    }
    while (queues[receive_queue].take_used(element)) {
      const auto* frame = reinterpret_cast<const std::uint8_t*>(base + receive_buffers_offset +
                                                                std::size_t{element.id} * buffer_size + net_header_size);
      const std::size_t length = element.len - net_header_size;
      fmt::print("virtio: received {} bytes, EtherType {:02x}{:02x}\n", length, frame[12], frame[13]);
      if (is_gateway_arp_reply(frame, length)) {
        fmt::print("virtio: ARP reply: 10.0.2.2 is at {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\n", frame[22], frame[23],
                   frame[24], frame[25], frame[26], frame[27]);
        answered = true;
      }
    }
  }
  const std::uint8_t final_status = common.status();
  if ((final_status & status::device_needs_reset) != 0) {
    fmt::print("virtio: device error: DEVICE_NEEDS_RESET set (status {:#04x})\n", final_status);
  }
  if (auto reset = common.reset(); !reset) {
    fmt::print(stderr, "aether-vfio-probe: {}\n", reset.error().describe());
    return exit_failure;
  }
  bool canary_intact = true;
  for (std::size_t i = 0; i < receive_buffers * buffer_size; ++i) {
    canary_intact = canary_intact && base[receive_buffers_offset + i] == canary;
  }
  std::uint64_t interrupts = 0;
  const bool interrupted = ::read(vectors->eventfd(0), &interrupts, sizeof(interrupts)) == sizeof(interrupts);
  fmt::print("msix: receive queue interrupts on eventfd: {}\n", interrupted ? interrupts : 0);
  if (fault_test) {
    fmt::print("virtio: fault test: transmitted {}, reply received {}, device error {}, receive memory {}\n", sent,
               answered, (final_status & status::device_needs_reset) != 0, canary_intact ? "untouched" : "WRITTEN");
    return sent && !answered && canary_intact ? exit_ok : exit_failure;
  }
  if (!sent || !answered) {
    fmt::print(stderr, "aether-vfio-probe: ARP exchange incomplete (sent {}, answered {}, status {:#04x})\n", sent,
               answered, final_status);
    return exit_failure;
  }
  return exit_ok;
}

int run_virtio_port_arp(const vfio::PciAddress& address, double hold_seconds) {
  auto config = net::default_packet_pool_config(1024, "aether-virtio-probe");
  config.region.use_hugepages = false;  // 4 MiB; the guest has no hugepages reserved
  auto pool = mem::Mempool::create(config);
  if (!pool) {
    fmt::print(stderr, "aether-vfio-probe: {}\n", pool.error().describe());
    return exit_failure;
  }
  // Interrupt mode, so that the reply's MSI-X interrupt can be counted.
  const std::string spec = fmt::format("vfio:{}?mode=interrupt", address.to_string());
  auto port = net::open_port(spec, net::PortOptions{pool->get(), 0});
  if (!port) {
    fmt::print(stderr, "aether-vfio-probe: {}\n", port.error().describe());
    return exit_failure;
  }
  net::Queue& queue = (*port)->queue(0);
  queue.set_rx_interrupt(true);
  const PortArpResult result = exchange_arp_through_port(**port, **pool, "virtio", hold_seconds);
  fmt::print("msix: receive queue interrupts on eventfd: {}\n", wait_for_rx_interrupts(queue, 1000));
  port->reset();  // device reset, buffers back, pool and rings unmapped, session closed
  fmt::print("virtio: port closed, {} of {} buffers back in the pool\n", (*pool)->available(), (*pool)->capacity());
  if (!result.sent || !result.answered) {
    fmt::print(stderr, "aether-vfio-probe: virtio ARP exchange through the port incomplete (sent {}, answered {})\n",
               result.sent, result.answered);
    return exit_failure;
  }
  return exit_ok;
}

}  // namespace aether::vfio_probe
