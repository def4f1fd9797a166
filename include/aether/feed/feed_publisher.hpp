// The publisher: replays a recorded trading day over one port queue as
// MoldUDP64 multicast frames, paced by the TSC, with gaps injected on
// request, and answers MoldUDP64 re-requests from the day's
// RetransmissionStore (the request server) on the same queue.
//
// Pacing: packet i is due at start + (messages before it) / rate, so a
// burst in the day is a burst on the wire and the schedule never slips
// behind a slow send (a late packet goes out at once; how late is
// recorded, in ticks). Rate 0: as fast as the queue takes them. The day's
// heartbeats are not replayed (they mark quiet seconds of the day's clock);
// after the last packet the end of session is repeated instead.
//
// Gaps: with gap_every N, every Nth data packet is not sent (its messages
// stay in the store, so a re-request recovers them). A frame that arrives
// is a re-request (20-byte payload: answered to its sender, or refused and
// counted), an order (an OUCH Enter Order, counted) or another frame
// (counted). Data path: buffers from the pool, no allocation or lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/dataplane/poller.hpp"
#include "aether/feed/day_generator.hpp"
#include "aether/feed/retransmission_store.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/port.hpp"
#include "aether/stats/latency_histogram.hpp"

namespace aether::feed {

// A generated day held in memory, ready to send.
struct RecordedDay {
  struct Packet {
    std::size_t offset = 0;            // in bytes
    std::uint16_t length = 0;
    std::uint64_t messages_before = 0;  // messages of the day before this packet
    bool data = false;                 // not a heartbeat or the end of session
  };
  std::vector<std::byte> bytes;        // the MoldUDP64 packets back to back
  std::vector<Packet> packets;
  RetransmissionStore store{""};
  DayStats stats;
  std::uint64_t book_digest = 0;       // OrderBook::digest() after the whole day
};

// Generates `config`'s day into memory (and its book, for the digest).
[[nodiscard]] Result<RecordedDay> record_day(const DayConfig& config);

// The Ethernet multicast MAC of an IPv4 group (RFC 1112 section 6.4:
// 01:00:5e and the group's low 23 bits); ff:ff:ff:ff:ff:ff for a unicast
// address (then every L2 receiver sees it, as on a shared wire).
[[nodiscard]] net::MacAddress multicast_mac(std::uint32_t group_be) noexcept;

struct FeedPublisherConfig {
  net::UdpEndpoint source;       // our MAC, IP and UDP port (network order)
  net::UdpEndpoint group;        // where the feed goes (multicast_mac(ip) for the MAC)
  double messages_per_second = 0;  // 0: as fast as the queue takes them
  std::uint64_t gap_every = 0;     // skip every Nth data packet; 0: none
  double ticks_per_second = 1e9;   // the TSC's rate (core::Clock), for pacing
  // After the last packet, the end of session again this often (MoldUDP64
  // servers keep announcing it, so a receiver that lost the last packets
  // still learns the final sequence number and asks for them).
  std::uint64_t end_of_session_repeat_ticks = 20'000'000;
};

struct FeedPublisherCounters {
  using Counter = net::QueueCounters::Counter;
  Counter packets_sent, messages_sent;
  Counter packets_skipped, messages_skipped;  // injected gaps
  Counter tx_full;                 // times the queue took less than offered (retried)
  Counter requests, requests_answered, requests_refused, answers_dropped;
  Counter orders;                  // OUCH Enter Orders received
  Counter orders_untimed;          // ... whose token names no message sent
  Counter other_frames;            // neither
  Counter done;                    // 1 once every packet of the day was sent or skipped
  Counter end_of_session_repeats;  // end-of-session packets sent after that
};

class FeedPublisher final : public dataplane::Poller {
 public:
  // `day`, the queue and the pool must outlive the publisher. The day's
  // clock starts at the first poll().
  FeedPublisher(net::Queue& queue, mem::Mempool& pool, const RecordedDay& day, const FeedPublisherConfig& config);
  bool poll() noexcept override;
  [[nodiscard]] net::Queue* rx_queue() const noexcept override { return &queue_; }
  [[nodiscard]] const FeedPublisherCounters& counters() const noexcept { return counters_; }
  // How late each packet left after it was due, in ticks (worker thread,
  // or after it joined).
  [[nodiscard]] const LatencyHistogram& send_lateness_ticks() const noexcept { return lateness_; }
  // Wire to wire, in ticks: from when the packet holding an order's
  // triggering message was due (at rate 0: taken by tx_burst) to the order
  // coming out of rx_burst here. Due, not sent: a late send counts.
  [[nodiscard]] const LatencyHistogram& wire_to_wire_ticks() const noexcept { return wire_to_wire_; }

 private:
  bool serve() noexcept;
  void time_order(std::span<const std::byte> order, std::uint64_t now) noexcept;
  bool send_due() noexcept;
  bool repeat_end_of_session(std::uint64_t now) noexcept;
  [[nodiscard]] std::uint64_t due(std::size_t packet) const noexcept;
  [[nodiscard]] bool skipped(std::size_t packet, std::uint64_t data_ordinal) const noexcept;
  [[nodiscard]] std::uint64_t messages_in(std::size_t packet) const noexcept;

  net::Queue& queue_;
  mem::Mempool& pool_;
  const RecordedDay& day_;
  FeedPublisherConfig config_;
  double ticks_per_message_ = 0;
  std::uint64_t start_ticks_ = 0;
  std::size_t next_ = 0;              // next packet of the day
  std::uint64_t data_ordinal_ = 0;    // data packets passed (for gap_every)
  std::uint64_t last_end_ticks_ = 0;  // last repeat of the end of session
  std::vector<std::uint64_t> sent_ticks_;  // [packet]: when tx_burst took it
  LatencyHistogram lateness_;
  LatencyHistogram wire_to_wire_;
  FeedPublisherCounters counters_;
};

}  // namespace aether::feed
