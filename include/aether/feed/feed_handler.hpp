// The feed handler: an Aether poller that turns MoldUDP64/ITCH 5.0 frames
// from one port queue into a full order book, recovers every gap with
// MoldUDP64 re-requests sent over the same queue, and runs a trivial
// strategy that sends an OUCH 4.2 Enter Order whenever a symbol's best bid
// or offer changes.
//
// Sequencing (shared specs section 2). `applied` is the next sequence number
// the book needs. A packet that starts at or below it is applied (its
// already-applied leading blocks skipped); one that starts above it opens a
// gap: the packet is held (its buffer kept, up to hold_capacity packets) and
// the missing range [applied, first held) is requested from the packet's
// sender. Answers are ordinary downstream packets: they fill the gap, then
// the held packets are applied in order. A request with no progress after
// request_timeout_ticks is sent again; an answer that fills part of the gap
// triggers the request for the rest at once. A packet that arrives while
// the hold is full is freed and counted; its messages are requested like any
// others.
//
// Staleness. While a gap is open the book is behind the wire for every
// symbol the missing messages touch, and which symbols those are is unknown
// until they arrive (ITCH messages for one order name it by reference, and
// the gap may hold its add). So while a gap is open every symbol is stale:
// stale() says so and the strategy sends nothing. When the gap is filled the
// symbols its messages touched are counted (gap_symbols_recovered).
//
// Strategy. After each live book message the touched symbol's best bid and
// offer (price and shares) are compared with the last seen; on a change it
// sends a day order for order_shares at the new best: a buy when the bid
// changed, else a sell; its token is the triggering message's sequence
// number (the publisher times the order against that message). Messages applied from a recovery or from the hold
// update the book but send no order (they are history, not a signal).
//
// Accounting: every frame received is a feed packet (applied, held or a
// duplicate) or in one drop counter; every order and request built is sent
// or counted. Data path: no allocation, lock, exception or syscall beyond
// the port's own; buffers for requests and orders come from the pool.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aether/dataplane/poller.hpp"
#include "aether/feed/drop_counters.hpp"
#include "aether/feed/moldudp64.hpp"
#include "aether/feed/order_book.hpp"
#include "aether/feed/sequence_tracker.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/port.hpp"
#include "aether/stats/latency_histogram.hpp"

namespace aether::feed {

struct FeedHandlerConfig {
  std::string session;          // MoldUDP64 session; empty: the first packet's
  net::UdpEndpoint local;       // source of requests and orders (MAC, IP, UDP port; network order)
  std::size_t expected_orders = std::size_t{1} << 20;  // order table sizing (order_book.hpp)
  unsigned hold_capacity = 4096;  // packets held behind a gap (rounded to a power of two, at most a quarter of the pool)
  std::uint64_t request_timeout_ticks = 2'000'000;   // re-send an unanswered request after this (~1 ms of TSC)
  std::uint32_t order_shares = 100;
  bool send_orders = true;                           // false: book only (no strategy)
};

// Single-writer counters, readable from any thread (net::QueueCounters).
struct FeedHandlerCounters {
  using Counter = net::QueueCounters::Counter;
  Counter frames;               // everything rx_burst returned
  Counter dropped_not_udp;      // not an IPv4/UDP frame
  Counter dropped_other_session;  // a MoldUDP64 packet of another session
  Counter dropped_bad_packet;   // shorter than a MoldUDP64 header
  Counter dropped_hold_full;    // after a gap, with the hold full (requested again later)
  Counter dropped_out_of_order; // an old answer beyond the gap's start (requested again)
  Counter duplicates;           // nothing new in it
  Counter data_packets, heartbeats, end_of_session;
  Counter messages_applied;     // ITCH messages given to the book
  Counter gaps;                 // gaps detected (SequenceTracker)
  Counter messages_missed;      // messages in them
  Counter messages_recovered;   // gap messages applied from answers
  Counter gaps_recovered;       // times every gap so far was filled
  Counter gap_symbols_recovered;  // symbols the filled gaps' messages touched
  Counter requests_sent, requests_dropped;  // re-requests (dropped: no buffer or tx full)
  Counter orders_sent, orders_dropped;      // OUCH Enter Orders (dropped: no buffer or tx full)
  Counter end_of_session_applied;  // 1 once the end of session was seen with no gap open: the day is complete
  std::atomic<bool> gap_open{false};  // stale() for other threads (relaxed: a status, not a publication)

  // Every frame is one of these: a MoldUDP64 packet of the session (data,
  // heartbeat, end) or a frame dropped before (not UDP, other session, too
  // short). A data packet is then applied, held, a duplicate, or dropped
  // after parsing (hold full, out of order: its messages are requested).
  [[nodiscard]] std::uint64_t frames_dropped_count() const noexcept {
    return dropped_not_udp.get() + dropped_other_session.get() + dropped_bad_packet.get() + dropped_hold_full.get() +
           dropped_out_of_order.get();
  }
  [[nodiscard]] std::uint64_t frames_accounted() const noexcept {
    return data_packets.get() + heartbeats.get() + end_of_session.get() + dropped_not_udp.get() +
           dropped_other_session.get() + dropped_bad_packet.get();
  }
};

class FeedHandler final : public dataplane::Poller {
 public:
  // The queue and pool must outlive the handler. Allocates the book, the
  // hold and the per-symbol tables (control path).
  FeedHandler(net::Queue& queue, mem::Mempool& pool, const FeedHandlerConfig& config);
  ~FeedHandler() override;
  FeedHandler(const FeedHandler&) = delete;
  FeedHandler& operator=(const FeedHandler&) = delete;

  bool poll() noexcept override;
  [[nodiscard]] net::Queue* rx_queue() const noexcept override { return &queue_; }

  [[nodiscard]] const FeedHandlerCounters& counters() const noexcept { return counters_; }
  // The rest is for the worker's thread, or after it joined.
  [[nodiscard]] const OrderBook& book() const noexcept { return book_; }
  [[nodiscard]] const DropCounters& message_drops() const noexcept { return drops_; }
  [[nodiscard]] bool stale() const noexcept { return applied_ < tracker_.next_expected(); }
  [[nodiscard]] std::uint64_t next_to_apply() const noexcept { return applied_; }
  // Tick-to-trade in TSC ticks: from the rx_burst that returned the packet
  // to the tx_burst that took the order (core::Clock converts).
  [[nodiscard]] const LatencyHistogram& tick_to_trade_ticks() const noexcept { return tick_to_trade_; }

  // The book's decode handler; public for decode_message() only.
  struct Applier;

 private:
  struct Held {
    mem::Packet* packet;
    std::uint64_t first;  // sequence number of its first block
    std::uint16_t payload_offset;  // the MoldUDP64 packet within the frame
    std::uint16_t payload_length;
  };
  enum class Mode : std::uint8_t { live, held, recovered };
  struct Top {
    std::uint32_t bid_price = 0, ask_price = 0;
    std::uint64_t bid_shares = 0, ask_shares = 0;
  };

  // One received frame; true if its buffer was kept (held).
  bool on_frame(mem::Packet& packet) noexcept;
  // Applies the blocks of `payload` from sequence `applied_` on.
  void apply(std::span<const std::byte> payload, Mode mode) noexcept;
  void apply_held() noexcept;
  void request_if_due() noexcept;
  // After a book message for `locate`: an order if its top changed.
  void on_book_change(std::uint16_t locate) noexcept;
  [[nodiscard]] mem::Packet* frame_to_peer(std::span<const std::byte> payload) noexcept;
  void flush_orders() noexcept;

  net::Queue& queue_;
  mem::Mempool& pool_;
  FeedHandlerConfig config_;
  mold::Header session_header_{};  // session learned or configured
  bool session_known_ = false;
  net::UdpEndpoint peer_{};        // sender of the last feed packet: requests and orders go there

  OrderBook book_;
  DropCounters drops_;
  SequenceTracker tracker_;        // the highest sequence seen (gap detection)
  std::uint64_t applied_ = 1;      // next sequence the book needs
  bool end_seen_ = false;          // an end-of-session packet arrived
  Mode mode_ = Mode::live;         // of the messages being applied

  std::vector<Held> hold_;         // ring, hold_capacity entries
  std::size_t hold_head_ = 0, hold_size_ = 0;

  std::uint64_t request_first_ = 0;  // last request's first sequence (0: none outstanding)
  std::uint64_t request_ticks_ = 0;  // when it was sent
  std::uint64_t gap_epoch_ = 0;      // one per gap episode (stale period)
  std::vector<std::uint64_t> touched_in_epoch_;  // [locate]: last gap episode its messages filled

  std::vector<Top> tops_;                 // [locate]
  std::vector<Alpha<8>> symbols_;         // [locate], from Stock Directory
  std::array<mem::Packet*, 1> orders_{};  // the order being handed to tx (sent as soon as it is built)
  unsigned order_count_ = 0;
  std::uint64_t sequence_ = 0;            // of the message being applied
  std::uint64_t burst_ticks_ = 0;         // TSC when rx_burst returned
  LatencyHistogram tick_to_trade_;
  FeedHandlerCounters counters_;
};

}  // namespace aether::feed
