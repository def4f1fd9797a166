// FeedPublisher and record_day (see feed_publisher.hpp).
#include "aether/feed/feed_publisher.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "aether/core/clock.hpp"
#include "aether/feed/itch_decoder.hpp"
#include "aether/feed/order_book.hpp"
#include "aether/feed/ouch.hpp"

namespace aether::feed {
namespace {

constexpr unsigned burst_size = 32;

}  // namespace

Result<RecordedDay> record_day(const DayConfig& config) {
  RecordedDay day;
  day.store = RetransmissionStore(config.session);
  OrderBook book;
  DropCounters drops;
  std::uint64_t messages = 0;
  auto stats = generate_day(config, [&](std::span<const std::byte> packet, std::uint64_t) -> Result<void> {
    // The day's heartbeats mark its quiet seconds; a replay compresses
    // time, so it sends its own (the repeated end of session) instead.
    if (packet.size() == mold::header_size && packet[18] == std::byte{0} && packet[19] == std::byte{0}) return {};
    RecordedDay::Packet recorded{day.bytes.size(), static_cast<std::uint16_t>(packet.size()), messages, false};
    day.bytes.insert(day.bytes.end(), packet.begin(), packet.end());
    const auto info = mold::parse_packet(packet, drops, [&](std::uint64_t, std::span<const std::byte> message) {
      day.store.append(message);
      (void)decode_message(message, book, drops);
    });
    recorded.data = info.kind == mold::PacketKind::data;
    messages += info.messages_delivered;
    day.packets.push_back(recorded);
    return {};
  });
  if (!stats) return std::move(stats).error();
  day.stats = *stats;
  day.book_digest = book.digest();
  return day;
}

net::MacAddress multicast_mac(std::uint32_t group_be) noexcept {
  const std::uint32_t group = ntohl(group_be);
  if ((group >> 28) != 0xE) return net::MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};  // not 224.0.0.0/4
  return net::MacAddress{0x01, 0x00, 0x5e, static_cast<std::uint8_t>((group >> 16) & 0x7F),
                         static_cast<std::uint8_t>(group >> 8), static_cast<std::uint8_t>(group)};
}

FeedPublisher::FeedPublisher(net::Queue& queue, mem::Mempool& pool, const RecordedDay& day,
                             const FeedPublisherConfig& config)
    : queue_(queue), pool_(pool), day_(day), config_(config), sent_ticks_(day.packets.size(), 0) {
  if (config_.messages_per_second > 0) ticks_per_message_ = config_.ticks_per_second / config_.messages_per_second;
}

bool FeedPublisher::poll() noexcept {
  if (start_ticks_ == 0) start_ticks_ = tsc_now();
  const bool served = serve();
  const bool sent = send_due();
  if (!served && !sent) (void)queue_.tx_burst(std::span<mem::Packet*>());  // reap completions
  return served || sent;
}

std::uint64_t FeedPublisher::due(std::size_t packet) const noexcept {
  return start_ticks_ + static_cast<std::uint64_t>(static_cast<double>(day_.packets[packet].messages_before) *
                                                   ticks_per_message_);
}

std::uint64_t FeedPublisher::messages_in(std::size_t packet) const noexcept {
  const std::uint64_t end =
      packet + 1 < day_.packets.size() ? day_.packets[packet + 1].messages_before : day_.stats.messages;
  return end - day_.packets[packet].messages_before;
}

bool FeedPublisher::skipped(std::size_t packet, std::uint64_t data_ordinal) const noexcept {
  return config_.gap_every > 0 && day_.packets[packet].data && (data_ordinal + 1) % config_.gap_every == 0;
}

bool FeedPublisher::send_due() noexcept {
  const std::uint64_t now = tsc_now();
  if (next_ == day_.packets.size()) return repeat_end_of_session(now);
  std::array<mem::Packet*, burst_size> burst{};
  std::array<std::size_t, burst_size> index{};
  unsigned count = 0;
  std::uint64_t ordinal = data_ordinal_;  // of the data packet at next_
  while (count < burst_size && next_ < day_.packets.size() && due(next_) <= now) {
    const RecordedDay::Packet& packet = day_.packets[next_];
    if (skipped(next_, ordinal)) {
      if (count > 0) break;  // send what is built first: a retry must not pass the skip twice
      counters_.packets_skipped.add(1);
      counters_.messages_skipped.add(messages_in(next_));
      ++data_ordinal_;
      ++ordinal;
      ++next_;
      continue;
    }
    mem::Packet* frame = nullptr;
    if (pool_.alloc_bulk(std::span(&frame, 1)) != 1) break;  // pool empty: retry next poll
    const std::size_t length =
        net::write_udp_headers({frame->data(), frame->tailroom()}, config_.source, config_.group, packet.length);
    if (length == 0 || !frame->set_length(static_cast<std::uint16_t>(length))) {
      pool_.free_bulk(std::span(&frame, 1));
      break;
    }
    std::memcpy(frame->data() + net::udp_frame_header_size, day_.bytes.data() + packet.offset, packet.length);
    ordinal += packet.data ? 1 : 0;
    burst[count] = frame;
    index[count++] = next_++;
  }
  if (count == 0) return false;
  const unsigned sent = queue_.tx_burst(std::span(burst.data(), count));
  const std::uint64_t handed = tsc_now();
  for (unsigned i = 0; i < sent; ++i) {
    const RecordedDay::Packet& packet = day_.packets[index[i]];
    data_ordinal_ += packet.data ? 1 : 0;
    lateness_.record(handed - due(index[i]));
    sent_ticks_[index[i]] = handed;
    counters_.messages_sent.add(messages_in(index[i]));
  }
  counters_.packets_sent.add(sent);
  if (sent < count) {
    counters_.tx_full.add(1);
    pool_.free_bulk(std::span(burst.data() + sent, count - sent));
    next_ = index[sent];
  }
  if (next_ == day_.packets.size()) counters_.done.add(1);
  return true;
}

bool FeedPublisher::repeat_end_of_session(std::uint64_t now) noexcept {
  if (day_.packets.empty() || now - last_end_ticks_ < config_.end_of_session_repeat_ticks) return false;
  last_end_ticks_ = now;
  const RecordedDay::Packet& end = day_.packets.back();  // the day's last packet is its end of session
  mem::Packet* frame = nullptr;
  if (pool_.alloc_bulk(std::span(&frame, 1)) != 1) return false;
  const std::size_t length =
      net::write_udp_headers({frame->data(), frame->tailroom()}, config_.source, config_.group, end.length);
  if (length == 0 || !frame->set_length(static_cast<std::uint16_t>(length))) {
    pool_.free_bulk(std::span(&frame, 1));
    return false;
  }
  std::memcpy(frame->data() + net::udp_frame_header_size, day_.bytes.data() + end.offset, end.length);
  if (queue_.tx_burst(std::span(&frame, 1)) != 1) {
    pool_.free_bulk(std::span(&frame, 1));
    return false;
  }
  counters_.end_of_session_repeats.add(1);
  return true;
}

void FeedPublisher::time_order(std::span<const std::byte> order_bytes, std::uint64_t now) noexcept {
  ouch::EnterOrder order;
  std::memcpy(&order, order_bytes.data(), sizeof(order));
  const std::uint64_t sequence = ouch::token_number(order.order_token);
  // The packet holding message `sequence`: the last with messages_before < sequence.
  const auto after = std::partition_point(day_.packets.begin(), day_.packets.end(), [sequence](const auto& packet) {
    return packet.messages_before < sequence;
  });
  const auto packet = static_cast<std::size_t>(after - day_.packets.begin());
  if (sequence == 0 || packet == 0 || sent_ticks_[packet - 1] == 0) {
    counters_.orders_untimed.add(1);
    return;
  }
  const std::uint64_t from = ticks_per_message_ > 0 ? due(packet - 1) : sent_ticks_[packet - 1];
  wire_to_wire_.record(now > from ? now - from : 0);
}

bool FeedPublisher::serve() noexcept {
  std::array<mem::Packet*, burst_size> received{};
  const unsigned count = queue_.rx_burst(received);
  if (count == 0) return false;
  const std::uint64_t now = tsc_now();
  std::array<mem::Packet*, burst_size> answers{};
  unsigned answer_count = 0;
  for (unsigned i = 0; i < count; ++i) {
    net::FrameError error{};
    const auto request = net::parse_udp_frame({received[i]->data(), received[i]->length()}, error);
    if (request && request->payload.size() == sizeof(ouch::EnterOrder) &&
        static_cast<char>(request->payload[0]) == ouch::EnterOrder::type) {
      counters_.orders.add(1);
      time_order(request->payload, now);
      continue;
    }
    if (!request || request->payload.size() != mold::header_size) {
      counters_.other_frames.add(1);
      continue;
    }
    counters_.requests.add(1);
    mem::Packet* frame = nullptr;
    if (pool_.alloc_bulk(std::span(&frame, 1)) != 1) {
      counters_.answers_dropped.add(1);
      continue;
    }
    const std::span<std::byte> room(frame->data(), frame->tailroom());
    const std::size_t payload_room = std::min<std::size_t>(room.size() - net::udp_frame_header_size,
                                                           mold::header_size + mold::default_payload_size);
    const auto answer = day_.store.answer(request->payload, room.subspan(net::udp_frame_header_size, payload_room));
    const net::UdpEndpoint requester{request->ethernet->source, request->ip->source_be, request->udp->source_port_be};
    const std::size_t length =
        answer.empty() ? 0 : net::write_udp_headers(room, config_.source, requester, answer.size());
    if (length == 0 || !frame->set_length(static_cast<std::uint16_t>(length))) {
      counters_.requests_refused.add(1);
      pool_.free_bulk(std::span(&frame, 1));
      continue;
    }
    answers[answer_count++] = frame;
  }
  pool_.free_bulk(std::span(received.data(), count));
  const unsigned sent = queue_.tx_burst(std::span(answers.data(), answer_count));
  counters_.requests_answered.add(sent);
  if (sent < answer_count) {
    counters_.answers_dropped.add(answer_count - sent);
    pool_.free_bulk(std::span(answers.data() + sent, answer_count - sent));
  }
  return true;
}

}  // namespace aether::feed
