// `aether-vfio-probe --send-arp` through an opened net::Port, whichever
// driver is behind it: the ARP exchange with QEMU's user-network gateway,
// then --hold's polling with the device watched for faults.
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <thread>

#include "aether/mem/mempool.hpp"
#include "aether/net/frame.hpp"
#include "vfio_probe.hpp"

namespace aether::vfio_probe {
namespace {

using Clock = std::chrono::steady_clock;

// Prints what a burst returned, frees it, and says whether the gateway's
// ARP reply was among it.
bool take_received(std::span<net::Packet*> received, mem::Mempool& pool, const char* label) {
  bool answered = false;
  for (net::Packet* packet : received) {
    const auto* frame = reinterpret_cast<const std::uint8_t*>(packet->data());
    const std::size_t length = packet->length();
    fmt::print("{}: received {} bytes, EtherType {:02x}{:02x}\n", label, length, frame[12], frame[13]);
    if (is_gateway_arp_reply(frame, length)) {
      fmt::print("{}: ARP reply: 10.0.2.2 is at {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\n", label, frame[22],
                 frame[23], frame[24], frame[25], frame[26], frame[27]);
      answered = true;
    }
  }
  pool.free_bulk(received);
  return answered;
}

}  // namespace

std::uint64_t wait_for_rx_interrupts(net::Queue& queue, int patience_ms) {
  const int fd = queue.rx_interrupt_fd();
  if (fd < 0) return 0;
  pollfd waiting{fd, POLLIN, 0};
  if (::poll(&waiting, 1, patience_ms) != 1) return 0;
  std::uint64_t interrupts = 0;  // the eventfd is non-blocking
  return ::read(fd, &interrupts, sizeof(interrupts)) == sizeof(interrupts) ? interrupts : 0;
}

PortArpResult exchange_arp_through_port(net::Port& port, mem::Mempool& pool, const char* label, double hold_seconds) {
  PortArpResult result;
  const net::PortInfo& info = port.info();
  fmt::print("{}: port {} open: {}, mac {}, link {}\n", label, info.spec, info.mode, net::format_mac(info.mac),
             net::to_string(port.link_state()));
  for (const auto& note : info.notes) fmt::print("{}:   note: {}\n", label, note);
  net::Queue& queue = port.queue(0);

  std::array<net::Packet*, 32> burst{};
  net::Packet* request = nullptr;
  if (pool.alloc_bulk(std::span(&request, 1)) != 1) return result;
  const std::size_t frame_length = write_arp_request(request->data(), info.mac);
  (void)request->set_length(static_cast<std::uint16_t>(frame_length));
  result.sent = queue.tx_burst(std::span(&request, 1)) == 1;
  if (result.sent) {
    fmt::print("{}: transmitted ARP request ({} bytes) for 10.0.2.2\n", label, frame_length);
  } else {
    pool.free_bulk(std::span(&request, 1));
  }
  const auto reply_deadline = Clock::now() + std::chrono::seconds(5);
  while (result.sent && !result.answered && Clock::now() < reply_deadline) {
    result.answered = take_received(std::span(burst.data(), queue.rx_burst(burst)), pool, label);
    (void)queue.tx_burst({});  // reaps the request's buffer once the device is done with it
  }
  std::fflush(stdout);  // a watcher (the guest test) waits for the reply line before resetting the device

  // --hold: keep the port running, as a data plane would, and watch the
  // device (the guest test resets it underneath from another process).
  const auto hold_end =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(hold_seconds));
  auto next_look = Clock::now();
  while (Clock::now() < hold_end) {
    (void)take_received(std::span(burst.data(), queue.rx_burst(burst)), pool, label);
    (void)queue.tx_burst({});
    if (Clock::now() >= next_look) {
      next_look += std::chrono::milliseconds(100);
      if (auto fault = port.device_fault()) {
        fmt::print("{}: device fault: {}\n", label, *fault);
        fmt::print("{}: after the fault: rx_burst {} tx_burst {}, link {}\n", label, queue.rx_burst(burst),
                   queue.tx_burst({}), net::to_string(port.link_state()));
        result.fault_seen = true;
        break;
      }
    }
    std::this_thread::yield();
  }
  if (hold_seconds > 0 && !result.fault_seen) fmt::print("{}: held {} s, no device fault\n", label, hold_seconds);

  const net::QueueStats stats = port.stats();
  fmt::print(
      "{}: port counters: rx {} ({} bytes), tx {} ({} bytes); rx drops: no buffer {}, bad frame {}, truncated {}, "
      "device missed {}; tx drops: error {}, bad frame {}\n",
      label, stats.rx_packets, stats.rx_bytes, stats.tx_packets, stats.tx_bytes, stats.rx_drop_no_buffer,
      stats.rx_drop_bad_frame, stats.rx_drop_truncated, stats.rx_drop_kernel, stats.tx_drop_error,
      stats.tx_drop_bad_frame);
  return result;
}

}  // namespace aether::vfio_probe
