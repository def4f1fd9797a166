// The publisher's side of MoldUDP64 re-requests: every message sent this
// session, by sequence number, and the answer to a retransmission request.
//
// Request (shared specs section 2): 20 bytes, Session (10), Sequence Number
// (8, first message wanted), Requested Message Count (2). The answer is a
// standard downstream packet from that number holding what was asked and
// fits the payload; nothing is sent for a request of another length, of
// another session, for sequence 0, count 0 or messages not (yet) sent, as
// Nassau does; the client asks again for the rest. Control path: appending
// grows vectors; answering allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aether/feed/moldudp64.hpp"

namespace aether::feed {

class RetransmissionStore {
 public:
  explicit RetransmissionStore(std::string session) : session_(std::move(session)) {}

  // Records the next message sent (sequence number next_sequence()).
  void append(std::span<const std::byte> message);
  // The sequence number the next append() gets (sessions start at 1).
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return offsets_.size() + 1; }

  // Writes the answer to `request` into `buffer` (header plus up to
  // buffer.size() - 20 bytes of blocks) and returns it, or an empty span
  // when the request gets no answer (see the header comment).
  [[nodiscard]] std::span<const std::byte> answer(std::span<const std::byte> request,
                                                  std::span<std::byte> buffer) const noexcept;

 private:
  std::string session_;
  std::vector<std::byte> bytes_;          // every message back to back
  std::vector<std::size_t> offsets_;      // message i (sequence i + 1) starts at offsets_[i]
};

}  // namespace aether::feed
