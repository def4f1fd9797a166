// Gap detection on one MoldUDP64 session: what a receiver does with each
// packet's sequence number before it applies the packet's messages.
//
// The rule (shared specs section 2, from the MoldUDP64 v1.00 fields): with
// `next` the next expected number, a data packet with seq > next shows the
// gap [next, seq); one with seq + count <= next is a duplicate (skip it
// whole); on partial overlap, skip its first next - seq blocks. A heartbeat
// or end of session carries the next number the server will use, so one
// above `next` is a gap too: that is how loss is seen in quiet periods.
// The tracker then moves `next` past what it saw; the caller requests the
// gap's messages (retransmission_request()) and treats the book as stale
// until they are applied. Data path: arithmetic and counters only.
#pragma once

#include <cstdint>

namespace aether::feed {

struct SequenceDecision {
  std::uint64_t skip_blocks = 0;  // leading blocks of this packet already applied
  std::uint64_t gap_first = 0;    // first missing sequence number (when gap_count > 0)
  std::uint64_t gap_count = 0;    // messages missing before this packet; 0: none
  bool duplicate = false;         // nothing new in this packet
};

struct SequenceCounters {
  std::uint64_t gaps = 0;
  std::uint64_t messages_missed = 0;
  std::uint64_t duplicate_packets = 0;
  std::uint64_t overlapping_packets = 0;
};

class SequenceTracker {
 public:
  // MoldUDP64 sessions start at sequence number 1 (shared specs section 2).
  explicit SequenceTracker(std::uint64_t first_expected = 1) noexcept : next_(first_expected) {}

  // A data packet whose first block is `sequence`, with `count` blocks.
  SequenceDecision on_data(std::uint64_t sequence, std::uint64_t count) noexcept {
    SequenceDecision decision;
    if (sequence + count <= next_) {
      decision.duplicate = true;
      ++counters_.duplicate_packets;
      return decision;
    }
    if (sequence > next_) {
      record_gap(decision, sequence);
    } else if (sequence < next_) {
      decision.skip_blocks = next_ - sequence;
      ++counters_.overlapping_packets;
    }
    next_ = sequence + count;
    return decision;
  }

  // A heartbeat or end of session announcing `next_sequence`.
  SequenceDecision on_heartbeat(std::uint64_t next_sequence) noexcept {
    SequenceDecision decision;
    if (next_sequence > next_) {
      record_gap(decision, next_sequence);
      next_ = next_sequence;
    }
    return decision;
  }

  [[nodiscard]] std::uint64_t next_expected() const noexcept { return next_; }
  [[nodiscard]] const SequenceCounters& counters() const noexcept { return counters_; }

 private:
  void record_gap(SequenceDecision& decision, std::uint64_t up_to) noexcept {
    decision.gap_first = next_;
    decision.gap_count = up_to - next_;
    ++counters_.gaps;
    counters_.messages_missed += decision.gap_count;
  }

  std::uint64_t next_;
  SequenceCounters counters_;
};

}  // namespace aether::feed
