// prefetch_packet(): before a MoldUDP64 packet's messages are applied to an
// OrderBook, start every load the book will wait for.
//
// Why: the book's cost is memory, not instructions. A delete, cancel or
// execute of an order entered minutes ago reads a cold order-table slot
// (a cache miss, ~100 ns on a loaded host); applied one after another, a
// packet's ~8 messages wait for their misses in turn. A first pass over the
// packet that only prefetches (OrderBook::prefetch: the order's slot, an
// add's ladder header) puts those misses in flight together, so they
// overlap. Measured with aether_bench_feed (BM_decode_and_book against
// BM_decode_and_book_no_prefetch, docs/market-data.md): about a third less
// CPU per message. The second parse costs a few ns per message (decode alone
// is ~3.5 ns).
//
// Hint only: the book is not touched and nothing is counted (the applying
// pass counts the packet's drops).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "aether/feed/drop_counters.hpp"
#include "aether/feed/itch_decoder.hpp"
#include "aether/feed/moldudp64.hpp"
#include "aether/feed/order_book.hpp"

namespace aether::feed {

// decode_message()'s handler for the prefetch pass.
struct BookPrefetcher {
  const OrderBook& book;
  template <class Message>
  void on(const Message& message) const noexcept {
    book.prefetch(message);
  }
};

inline void prefetch_packet(const OrderBook& book, std::span<const std::byte> packet) noexcept {
  BookPrefetcher prefetcher{book};
  DropCounters not_counted;  // the applying pass counts
  (void)mold::parse_packet(packet, not_counted, [&](std::uint64_t, std::span<const std::byte> message) {
    (void)decode_message(message, prefetcher, not_counted);
  });
}

}  // namespace aether::feed
