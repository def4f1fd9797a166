// FeedHandler (see feed_handler.hpp).
#include "aether/feed/feed_handler.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "aether/core/clock.hpp"
#include "aether/feed/book_prefetch.hpp"
#include "aether/feed/itch_decoder.hpp"
#include "aether/feed/ouch.hpp"

namespace aether::feed {
namespace {

// Locates are 2-byte fields (ITCH "Stock Locate"): every table indexed by
// one has this many entries.
constexpr std::size_t locate_count = std::size_t{1} << 16;
constexpr unsigned burst_size = 32;

}  // namespace

// decode_message()'s handler: the book first, then what the handler does
// with a book change or a new symbol.
struct FeedHandler::Applier {
  FeedHandler& handler;

  void on(const itch::StockDirectory& message) noexcept {
    handler.symbols_[message.header.stock_locate.value()] = message.stock;
  }
  template <class Message>
  void on(const Message& message) noexcept {
    constexpr char type = Message::type;
    if constexpr (type == 'A' || type == 'F' || type == 'E' || type == 'C' || type == 'X' || type == 'D' ||
                  type == 'U') {
      handler.book_.on(message);
      handler.on_book_change(static_cast<std::uint16_t>(message.header.stock_locate.value()));
    }
  }
};

FeedHandler::FeedHandler(net::Queue& queue, mem::Mempool& pool, const FeedHandlerConfig& config)
    : queue_(queue),
      pool_(pool),
      config_(config),
      book_(config.expected_orders),
      // The hold keeps receive buffers: at most a quarter of the pool, so
      // the port can still receive the answers that release them.
      hold_(std::bit_floor(std::max<std::size_t>(
          1, std::min<std::size_t>(std::bit_ceil(std::max(config.hold_capacity, 1u)), pool.capacity() / 4)))),
      touched_in_epoch_(locate_count, 0),
      tops_(locate_count),
      symbols_(locate_count) {
  for (auto& symbol : symbols_) symbol.set("?");
  if (!config_.session.empty()) {
    session_header_.session.set(config_.session);
    session_known_ = true;
  }
}

FeedHandler::~FeedHandler() {
  for (; hold_size_ > 0; --hold_size_, hold_head_ = (hold_head_ + 1) % hold_.size()) {
    pool_.free_bulk(std::span(&hold_[hold_head_].packet, 1));
  }
  pool_.free_bulk(std::span(orders_.data(), order_count_));
}

bool FeedHandler::poll() noexcept {
  std::array<mem::Packet*, burst_size> burst{};
  const unsigned count = queue_.rx_burst(burst);
  if (count == 0) {
    (void)queue_.tx_burst(std::span<mem::Packet*>());  // reap completions
    request_if_due();
    return false;
  }
  burst_ticks_ = tsc_now();
  counters_.frames.add(count);
  unsigned freed = 0;
  for (unsigned i = 0; i < count; ++i) {
    if (!on_frame(*burst[i])) burst[freed++] = burst[i];  // held packets stay ours
  }
  pool_.free_bulk(std::span(burst.data(), freed));
  request_if_due();
  return true;
}

bool FeedHandler::on_frame(mem::Packet& packet) noexcept {
  net::FrameError error{};
  const auto frame = net::parse_udp_frame({packet.data(), packet.length()}, error);
  if (!frame) {
    counters_.dropped_not_udp.add(1);
    return false;
  }
  const std::span<const std::byte> payload = frame->payload;
  if (payload.size() < mold::header_size) {
    counters_.dropped_bad_packet.add(1);
    return false;
  }
  mold::Header header;
  std::memcpy(&header, payload.data(), mold::header_size);
  if (!session_known_) {
    session_header_.session = header.session;
    session_known_ = true;
  } else if (header.session.chars != session_header_.session.chars) {
    counters_.dropped_other_session.add(1);
    return false;
  }
  peer_ = net::UdpEndpoint{frame->ethernet->source, frame->ip->source_be, frame->udp->source_port_be};

  const bool was_stale = stale();
  const SequenceCounters before = tracker_.counters();
  const std::uint64_t first = header.sequence_number.value();
  const auto count = static_cast<std::uint16_t>(header.message_count.value());
  bool kept = false;
  if (count == mold::heartbeat_count || count == mold::end_of_session_count) {
    (count == mold::heartbeat_count ? counters_.heartbeats : counters_.end_of_session).add(1);
    (void)tracker_.on_heartbeat(first);  // carries the next sequence number
  } else {
    counters_.data_packets.add(1);
    const bool new_data = first + count > tracker_.next_expected();
    if (new_data) (void)tracker_.on_data(first, count);
    if (first + count <= applied_) {
      counters_.duplicates.add(1);
    } else if (first <= applied_) {
      apply(payload, new_data ? Mode::live : Mode::recovered);
      apply_held();
    } else if (!new_data) {
      counters_.dropped_out_of_order.add(1);  // inside the gap but not at its start: asked for again
    } else if (hold_size_ == hold_.size()) {
      counters_.dropped_hold_full.add(1);  // behind the held ones: asked for again
    } else {
      const auto offset = static_cast<std::uint16_t>(payload.data() - packet.data());
      hold_[(hold_head_ + hold_size_) % hold_.size()] =
          Held{&packet, first, offset, static_cast<std::uint16_t>(payload.size())};
      ++hold_size_;
      kept = true;
    }
  }
  const SequenceCounters& after = tracker_.counters();
  counters_.gaps.add(after.gaps - before.gaps);
  counters_.messages_missed.add(after.messages_missed - before.messages_missed);
  if (!was_stale && stale()) {
    ++gap_epoch_;
    counters_.gap_open.store(true, std::memory_order_relaxed);
  }
  if (was_stale && !stale()) {
    counters_.gaps_recovered.add(1);
    counters_.gap_open.store(false, std::memory_order_relaxed);
    request_first_ = 0;
  }
  end_seen_ = end_seen_ || count == mold::end_of_session_count;
  if (end_seen_ && !stale() && counters_.end_of_session_applied.get() == 0) {
    counters_.end_of_session_applied.add(1);
  }
  return kept;
}

void FeedHandler::apply(std::span<const std::byte> payload, Mode mode) noexcept {
  mode_ = mode;
  Applier applier{*this};
  std::uint64_t applied = 0;
  prefetch_packet(book_, payload);  // the packet's cache misses in flight together (book_prefetch.hpp)
  const mold::PacketInfo info =
      mold::parse_packet(payload, drops_, [&](std::uint64_t sequence, std::span<const std::byte> message) {
        if (sequence < applied_) return;  // applied before (overlap)
        applied_ = sequence + 1;
        sequence_ = sequence;
        ++applied;
        if (mode == Mode::recovered && message.size() >= 3) {
          // Stock Locate: offset 1 of every ITCH message (shared specs section 1).
          const std::size_t locate = (static_cast<std::size_t>(message[1]) << 8) | static_cast<std::size_t>(message[2]);
          if (locate != 0 && touched_in_epoch_[locate] != gap_epoch_) {
            touched_in_epoch_[locate] = gap_epoch_;
            counters_.gap_symbols_recovered.add(1);
          }
        }
        (void)decode_message(message, applier, drops_);
      });
  // A block cut short ends the packet (counted in drops_): its remaining
  // messages are lost, and the book moves on past them.
  applied_ = std::max(applied_, info.sequence_number + info.message_count);
  counters_.messages_applied.add(applied);
  if (mode == Mode::recovered) counters_.messages_recovered.add(applied);
}

void FeedHandler::apply_held() noexcept {
  while (hold_size_ > 0 && hold_[hold_head_].first <= applied_) {
    const Held held = hold_[hold_head_];
    hold_head_ = (hold_head_ + 1) % hold_.size();
    --hold_size_;
    apply({held.packet->data() + held.payload_offset, held.payload_length}, Mode::held);
    pool_.free_bulk(std::span(const_cast<mem::Packet**>(&held.packet), 1));
  }
}

void FeedHandler::request_if_due() noexcept {
  if (!stale() || !session_known_) return;
  const std::uint64_t hole_end = hold_size_ > 0 ? hold_[hold_head_].first : tracker_.next_expected();
  if (hole_end <= applied_) return;
  const std::uint64_t now = tsc_now();
  if (request_first_ == applied_ && now - request_ticks_ < config_.request_timeout_ticks) return;
  request_first_ = applied_;
  request_ticks_ = now;
  std::array<std::byte, mold::header_size> request_bytes{};
  mold::PacketBuilder builder(request_bytes);
  const auto wanted = static_cast<std::uint16_t>(std::min<std::uint64_t>(hole_end - applied_, mold::max_data_count));
  const auto request = builder.header_only(session_header_.session.text(), applied_, wanted);
  mem::Packet* frame = frame_to_peer(request);
  if (frame == nullptr || queue_.tx_burst(std::span(&frame, 1)) != 1) {
    if (frame != nullptr) pool_.free_bulk(std::span(&frame, 1));
    counters_.requests_dropped.add(1);
    return;
  }
  counters_.requests_sent.add(1);
}

void FeedHandler::on_book_change(std::uint16_t locate) noexcept {
  const auto bid = book_.best(locate, Side::buy);
  const auto ask = book_.best(locate, Side::sell);
  Top now;
  if (bid) now = Top{bid->price, 0, bid->shares, 0};
  if (ask) {
    now.ask_price = ask->price;
    now.ask_shares = ask->shares;
  }
  Top& last = tops_[locate];
  const bool bid_changed = now.bid_price != last.bid_price || now.bid_shares != last.bid_shares;
  const bool ask_changed = now.ask_price != last.ask_price || now.ask_shares != last.ask_shares;
  last = now;
  if (mode_ != Mode::live || !config_.send_orders || (!bid_changed && !ask_changed)) return;
  const bool buy = bid_changed && bid.has_value();
  if (!buy && !(ask_changed && ask.has_value())) return;  // the side emptied: nothing to join
  const auto order = ouch::make_enter_order(sequence_, buy ? 'B' : 'S', config_.order_shares, symbols_[locate],
                                            buy ? now.bid_price : now.ask_price);
  mem::Packet* frame = frame_to_peer(std::as_bytes(std::span(&order, 1)));
  if (frame == nullptr) {
    counters_.orders_dropped.add(1);
    return;
  }
  orders_[order_count_++] = frame;
  // Out at once: the order does not wait for the rest of the packet's
  // messages (each costs a book update). One tx_burst per order.
  flush_orders();
}

mem::Packet* FeedHandler::frame_to_peer(std::span<const std::byte> payload) noexcept {
  mem::Packet* packet = nullptr;
  if (pool_.alloc_bulk(std::span(&packet, 1)) != 1) return nullptr;
  const std::size_t length = net::write_udp_headers({packet->data(), packet->tailroom()}, config_.local, peer_,
                                                    payload.size());
  if (length == 0 || !packet->set_length(static_cast<std::uint16_t>(length))) {
    pool_.free_bulk(std::span(&packet, 1));
    return nullptr;
  }
  std::memcpy(packet->data() + net::udp_frame_header_size, payload.data(), payload.size());
  return packet;
}

void FeedHandler::flush_orders() noexcept {
  if (order_count_ == 0) return;
  const std::uint64_t handed = tsc_now();
  const unsigned sent = queue_.tx_burst(std::span(orders_.data(), order_count_));
  if (sent > 0) tick_to_trade_.record_n(handed - burst_ticks_, sent);
  counters_.orders_sent.add(sent);
  if (sent < order_count_) {
    counters_.orders_dropped.add(order_count_ - sent);
    pool_.free_bulk(std::span(orders_.data() + sent, order_count_ - sent));
  }
  order_count_ = 0;
}

}  // namespace aether::feed
