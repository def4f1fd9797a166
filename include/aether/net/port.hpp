// Port: the one small interface every backend implements (STYLE.md,
// conventions 3-5).
//
// Control: open (see port_registry.hpp), info, link state, stats.
// Data, per queue pair: rx_burst / tx_burst over spans of Packet*, returning
// how many were taken. One virtual call per burst, never per packet. The
// caller owns every packet a burst did not take.
//
// Threading: a Queue is driven by one thread at a time (its worker). Its
// counters may be read from any thread (relaxed atomics, single writer).
//
// The contract every backend meets (docs/runtime.md, "The port contract"):
// - sleeping only through Queue::rx_interrupt_fd(): rx_burst never blocks;
// - Packet::timestamp on rx is nanoseconds on core::Clock's TSC-derived
//   scale (the kernel's timestamp where the kernel gives one, else the poll
//   time; each backend says which in rx_timestamp_source());
// - backend-specific counters as name/value pairs (xstats), never found by
//   dynamic_cast;
// - multicast and receive-mode control (join_multicast, set_promiscuous),
//   refused with a clear error where the backend cannot.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aether/core/cache_line.hpp"
#include "aether/core/result.hpp"
#include "aether/mem/packet.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/port_spec.hpp"

namespace aether::mem {
class Mempool;
}

namespace aether::net {

using mem::Packet;

// A snapshot of one queue's counters. Every packet is accounted for:
// what rx_burst returned is rx_packets; what the port received but could not
// hand over is in one of the rx_drop_* counters.
struct QueueStats {
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_packets = 0;            // taken by tx_burst and handed to the kernel or device
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_drop_no_buffer = 0;     // a frame was there and the pool was empty
  std::uint64_t rx_drop_bad_frame = 0;     // malformed or unparseable for this backend
  std::uint64_t rx_drop_truncated = 0;     // longer than the buffer
  std::uint64_t rx_drop_kernel = 0;        // drops the kernel reported (ring full, socket buffer full)
  std::uint64_t tx_drop_error = 0;         // taken by tx_burst, then refused by the kernel or device
  std::uint64_t tx_drop_bad_frame = 0;     // taken by tx_burst, not sendable on this backend (e.g. not UDP on udp:)

  QueueStats& operator+=(const QueueStats& other) noexcept;
  [[nodiscard]] std::uint64_t rx_drops() const noexcept {
    return rx_drop_no_buffer + rx_drop_bad_frame + rx_drop_truncated + rx_drop_kernel;
  }
  [[nodiscard]] std::uint64_t tx_drops() const noexcept { return tx_drop_error + tx_drop_bad_frame; }
};

// The live counters behind QueueStats: written by the queue's one worker,
// read by anyone. Relaxed load+store (not fetch_add): there is one writer,
// and readers want a recent value, not an ordering.
class QueueCounters {
 public:
  struct Counter {
    std::atomic<std::uint64_t> value{0};
    void add(std::uint64_t n) noexcept { value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
  };
  Counter rx_packets, rx_bytes, tx_packets, tx_bytes;
  Counter rx_drop_no_buffer, rx_drop_bad_frame, rx_drop_truncated, rx_drop_kernel;
  Counter tx_drop_error, tx_drop_bad_frame;

  [[nodiscard]] QueueStats snapshot() const noexcept;
};

// One backend-specific counter: a stable snake_case name ("rx_ring_full",
// "interrupts_sent") and its value. Names are unique within one port.
struct XStat {
  std::string name;
  std::uint64_t value = 0;
};

// Where Packet::timestamp comes from on receive (see the contract above).
enum class RxTimestampSource : std::uint8_t {
  none,         // not filled (0): a backend that has not met the contract yet
  poll_time,    // the TSC read once per rx_burst that returned frames
  kernel,       // the kernel's receive timestamp (SO_TIMESTAMPNS, tpacket), converted to the TSC scale
  device,       // the device's own timestamp, converted to the TSC scale
};
[[nodiscard]] const char* to_string(RxTimestampSource source) noexcept;

enum class LinkState : std::uint8_t { unknown, down, up };
[[nodiscard]] const char* to_string(LinkState state) noexcept;

// What was opened and how: the negotiated data-path mode is reported, never
// silently downgraded.
struct PortInfo {
  std::string spec;                 // as opened
  std::string kind;                 // "udp", "afpacket", "afxdp", ...
  std::string interface;            // netdev name or address
  std::string mode;                 // e.g. "TPACKET_V3 mmap, qdisc bypass", "native, zero-copy"
  std::vector<std::string> notes;   // downgrades and refusals, with the reason
  unsigned queue_count = 1;
  MacAddress mac{};                 // all zero where the backend has none (udp)
  unsigned mtu = 1500;
};

// One rx/tx queue pair. Line-aligned: its counters and cursors are written
// by the worker that polls it, and must not share a line with another
// worker's queue (two ports' queues are often allocated side by side).
class alignas(cache_line_size) Queue {
 public:
  virtual ~Queue() = default;

  // Receives up to packets.size() frames (Ethernet, starting at data())
  // into buffers from the port's pool. Returns how many were written to
  // packets[0..n); they now belong to the caller.
  virtual unsigned rx_burst(std::span<Packet*> packets) noexcept = 0;

  // Offers packets for transmission. Returns how many were taken, from the
  // front; the port frees those (after sending, or on a counted drop).
  // packets[n..] are still the caller's. An empty span is allowed and
  // cheap: backends with completion rings use it to reap finished buffers
  // and kick the kernel (idle pollers call it).
  virtual unsigned tx_burst(std::span<Packet*> packets) noexcept = 0;

  [[nodiscard]] QueueStats stats() const noexcept { return counters_.snapshot(); }

  // Optional interrupt mode (a userspace NIC driver with mode=interrupt):
  // an fd that becomes readable (an eventfd counting MSI-X interrupts)
  // when a frame arrives while interrupts are on; -1 when the queue has
  // none (busy polling only). An idle worker turns interrupts on, checks
  // rx_burst once more (a frame may have come in between), sleeps in
  // poll(2) on the fd, reads it, and turns interrupts off again while busy.
  [[nodiscard]] virtual int rx_interrupt_fd() const noexcept { return -1; }
  virtual void set_rx_interrupt(bool /*enabled*/) noexcept {}

 protected:
  QueueCounters counters_;
};

class Port {
 public:
  virtual ~Port() = default;
  Port() = default;
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  [[nodiscard]] virtual const PortInfo& info() const noexcept = 0;
  [[nodiscard]] virtual Queue& queue(unsigned index) noexcept = 0;  // index < info().queue_count
  [[nodiscard]] virtual LinkState link_state() const = 0;

  // An unrecoverable device state detected on the data path or on asking
  // now (a userspace NIC driver: the device was reset underneath the port,
  // set DEVICE_NEEDS_RESET, or reads all-ones because it is gone), as a
  // message naming the device, what it showed and what to do. Once set the
  // port's queues touch the device no more: bursts return 0. Any thread;
  // cheap enough to call once a second. Kernel-socket backends have none.
  [[nodiscard]] virtual std::optional<std::string> device_fault() const { return std::nullopt; }

  // Backend-specific counters, summed over queues where per-queue. Control
  // path (allocates); any thread. Empty where the backend has none.
  [[nodiscard]] virtual std::vector<XStat> xstats() const { return {}; }

  // Where rx timestamps come from on this port.
  [[nodiscard]] virtual RxTimestampSource rx_timestamp_source() const noexcept { return RxTimestampSource::none; }

  // Receive the IPv4 multicast group `group_be` (network byte order):
  // udp joins it (IP_ADD_MEMBERSHIP), L2 backends add 01:00:5e:xx:xx:xx to
  // the netdev's or device's filter. Control path; joining twice is not an
  // error. The default refuses, naming the backend.
  [[nodiscard]] virtual Result<void> join_multicast(std::uint32_t group_be);
  [[nodiscard]] virtual Result<void> leave_multicast(std::uint32_t group_be);
  // Receive every frame on the wire, not only those addressed to the port.
  [[nodiscard]] virtual Result<void> set_promiscuous(bool enabled);

  // The sum over all queues.
  [[nodiscard]] QueueStats stats() noexcept;
};

// What every backend's open function receives besides its spec.
struct PortOptions {
  mem::Mempool* pool = nullptr;  // rx buffers come from here; must outlive the port
  std::uint16_t port_id = 0;     // stamped into Packet::port on rx
};

}  // namespace aether::net
