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
#include <optional>

#include "aether/core/result.hpp"
#include "aether/dataplane/local_answers.hpp"
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

// Runs the exchange on the calling thread and returns what happened: a
// missing reply is in the report, not an error. Errors: options that cannot
// work (no count, a payload too small to carry a sequence number or too
// large for a buffer). `stop` (optional) ends the run early, e.g. on Ctrl-C.
[[nodiscard]] Result<PingReport> ping_peer(net::Queue& queue, mem::Mempool& pool, const PingOptions& options,
                                           const std::atomic<bool>* stop = nullptr);

}  // namespace aether::dataplane
