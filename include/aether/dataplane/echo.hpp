// UDP echo responder and L2 forwarder: the two reference pollers.
//
// Both keep the books balanced: every packet received is either sent or
// counted in exactly one drop counter (rx = tx + drops).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

#include "aether/dataplane/local_answers.hpp"
#include "aether/dataplane/poller.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/port.hpp"

namespace aether::dataplane {

inline constexpr unsigned burst_size = 32;

// Single-writer counters readable from other threads (see QueueCounters).
// received = sent + dropped(): every frame is answered or in one drop counter.
struct EchoCounters {
  net::QueueCounters::Counter received;
  net::QueueCounters::Counter sent;
  net::QueueCounters::Counter dropped_not_udp;     // parse failed: see by_reason
  net::QueueCounters::Counter dropped_tx_full;     // tx_burst did not take it
  std::array<net::QueueCounters::Counter, 8> dropped_by_reason;  // indexed by net::FrameError
  // Only with a local address:
  net::QueueCounters::Counter arp_replies;         // ARP requests for it answered (sent, or dropped_tx_full)
  net::QueueCounters::Counter icmp_replies;        // ICMP echo requests to it answered (likewise)
  net::QueueCounters::Counter udp_replies;         // UDP datagrams to it echoed (likewise)
  net::QueueCounters::Counter dropped_not_for_us;  // ARP, ICMP or UDP for another address; ARP replies; other ICMP types
  net::QueueCounters::Counter dropped_malformed;   // ARP not Ethernet/IPv4, ICMP too short or with a bad checksum

  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return dropped_not_udp.get() + dropped_tx_full.get() + dropped_not_for_us.get() + dropped_malformed.get();
  }
};

// Answers every IPv4/UDP frame with the same payload, MAC/IP/port swapped.
// Frames that are not IPv4/UDP are dropped and counted by reason.
//
// With a local address it behaves as a host at that address instead: it
// answers ARP requests for it (RFC 826) and ICMP echo requests to it (RFC
// 792), echoes only UDP sent to it, and counts everything else as
// not-for-us, so that a kernel stack can resolve, ping and talk to it.
class EchoResponder final : public Poller {
 public:
  EchoResponder(net::Queue& queue, mem::Mempool& pool, std::optional<LocalAddress> local = std::nullopt) noexcept
      : queue_(queue), pool_(pool), local_(local) {}
  bool poll() noexcept override;
  [[nodiscard]] net::Queue* rx_queue() const noexcept override { return &queue_; }
  [[nodiscard]] const EchoCounters& counters() const noexcept { return counters_; }

 private:
  // Turns `packet` into its reply and says true, or counts why not.
  bool answer(mem::Packet& packet) noexcept;
  bool count_local_answer(LocalAnswer answer, net::QueueCounters::Counter& replies) noexcept;

  net::Queue& queue_;
  mem::Mempool& pool_;
  std::optional<LocalAddress> local_;
  EchoCounters counters_;
};

// Sends everything received on `input` out of `output` unchanged (testpmd's
// io mode). What `output` does not take is freed and counted.
class Forwarder final : public Poller {
 public:
  Forwarder(net::Queue& input, net::Queue& output, mem::Mempool& pool) noexcept
      : input_(input), output_(output), pool_(pool) {}
  bool poll() noexcept override;
  [[nodiscard]] net::Queue* rx_queue() const noexcept override { return &input_; }
  [[nodiscard]] std::uint64_t forwarded() const noexcept { return forwarded_.get(); }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.get(); }

 private:
  net::Queue& input_;
  net::Queue& output_;
  mem::Mempool& pool_;
  net::QueueCounters::Counter forwarded_;
  net::QueueCounters::Counter dropped_;
};

}  // namespace aether::dataplane
