// A peer prober: resolves a peer's MAC with ARP (RFC 826), then sends it
// ICMP echo requests (RFC 792) and UDP datagrams to its echo port and counts
// the replies by kind. It is what `aether ping` runs, and what proves that a
// port exchanges traffic with a real IP stack (the host kernel's, in the
// guest tests).
//
// It behaves as a host at the local address while it runs: the peer's ARP
// requests and pings are answered (a kernel asks for our MAC before it can
// reply), and every frame received is accounted for in the report.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "aether/core/result.hpp"
#include "aether/dataplane/local_answers.hpp"
#include "aether/dataplane/poller.hpp"
#include "aether/stats/published_histogram.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port.hpp"

namespace aether::dataplane {

struct PingOptions {
  LocalAddress local;                          // our MAC (the port's) and IPv4 address
  std::uint32_t peer_ip_be = 0;                // network byte order
  unsigned count = 10;                         // ICMP echo requests, and as many UDP datagrams
  std::uint16_t udp_port = 7;                  // the peer's echo port (RFC 862); 0: no UDP
  std::uint16_t local_udp_port = 40007;        // source port of our datagrams
  std::uint16_t icmp_identifier = 0xae7e;      // RFC 792 identifier: tells our replies from others'
  std::size_t payload_size = 32;               // bytes of ICMP data and of UDP payload (at least 4)
  std::chrono::milliseconds interval{10};      // between one request pair and the next
  std::chrono::milliseconds arp_timeout{1000}; // per ARP attempt
  unsigned arp_attempts = 3;
  std::chrono::milliseconds reply_timeout{2000};  // wait for late replies after the last request
};

struct PingReport {
  std::optional<net::MacAddress> peer_mac;     // from the peer's ARP reply
  std::uint64_t arp_requests_sent = 0;
  std::uint64_t arp_replies = 0;               // ARP replies from the peer's address
  std::uint64_t icmp_sent = 0;                 // echo requests the queue took
  std::uint64_t icmp_replies = 0;              // distinct sequence numbers answered
  std::uint64_t udp_sent = 0;
  std::uint64_t udp_replies = 0;               // distinct datagrams echoed back intact
  std::uint64_t duplicate_replies = 0;         // a sequence number answered twice (ICMP or UDP)
  std::uint64_t peer_arp_requests_answered = 0;   // the peer asked for our MAC
  std::uint64_t peer_icmp_requests_answered = 0;  // the peer pinged us
  std::uint64_t received = 0;                  // every frame rx_burst returned
  std::uint64_t other_frames = 0;              // received, none of the above (IPv6, others' traffic, ...)
  std::uint64_t not_sent = 0;                  // requests or answers the queue refused or the pool could not hold
  bool stopped = false;                        // the stop flag ended the run early

  // Every request answered exactly once and the peer resolved.
  [[nodiscard]] bool complete(const PingOptions& options) const noexcept;
};

// The exchange as a poller, for a runtime worker (what `aether ping` runs):
// each poll() takes one receive burst and sends what is due. Phases: ARP
// (asked again every arp_timeout, arp_attempts times), the requests (one
// ICMP echo and one UDP datagram every interval), late replies (until every
// request is answered or reply_timeout), done. A phase ends on the clock,
// never by blocking, so poll() returns at once; the worker must not sleep on
// the queue's interrupt (rx_queue() stays null) or the deadlines would wait.
class PingPoller final : public Poller {
 public:
  // Allocates what the exchange needs (control path). Errors: options that
  // cannot work (no count, a payload too small to carry a sequence number or
  // too large for a buffer).
  [[nodiscard]] static Result<std::unique_ptr<PingPoller>> create(net::Queue& queue, mem::Mempool& pool,
                                                                  const PingOptions& options);
  ~PingPoller() override;
  PingPoller(const PingPoller&) = delete;
  PingPoller& operator=(const PingPoller&) = delete;

  bool poll() noexcept override;

  // True once the exchange is over. acquire: what the polling thread wrote
  // before (the report) is visible after it.
  [[nodiscard]] bool done() const noexcept { return done_.load(std::memory_order_acquire); }
  // Ends the exchange at the next poll() (any thread); the report says
  // stopped. After the polling thread is joined, one more poll() from the
  // caller finishes it.
  void stop() noexcept { stop_requested_.store(true, std::memory_order_relaxed); }
  // The result; read it once done().
  [[nodiscard]] const PingReport& report() const noexcept;
  // ICMP round trips in nanoseconds (request sent to reply received, first
  // reply of each sequence number), published at every poll for a live
  // telemetry series (telemetry::add_latency_histogram).
  [[nodiscard]] PublishedHistogram& round_trips() noexcept { return round_trips_; }

 private:
  class Exchange;
  enum class Phase : std::uint8_t { arp, requests, late_replies, done };
  PingPoller(net::Queue& queue, mem::Mempool& pool, const PingOptions& options);
  void finish() noexcept;

  // Declaration order: the exchange refers to the options and the
  // histogram, so it is made after and destroyed before them.
  const PingOptions options_;
  PublishedHistogram round_trips_;
  Phase phase_ = Phase::arp;
  unsigned arp_attempts_made_ = 0;
  unsigned sequence_ = 0;
  std::chrono::steady_clock::time_point deadline_{};  // the phase's: next ARP, next request, last reply
  std::unique_ptr<Exchange> exchange_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> done_{false};
};

// Runs the exchange on the calling thread and returns what happened: a
// missing reply is in the report, not an error. Errors: options that cannot
// work (no count, a payload too small to carry a sequence number or too
// large for a buffer). `stop` (optional) ends the run early, e.g. on Ctrl-C.
[[nodiscard]] Result<PingReport> ping_peer(net::Queue& queue, mem::Mempool& pool, const PingOptions& options,
                                           const std::atomic<bool>* stop = nullptr);

}  // namespace aether::dataplane
