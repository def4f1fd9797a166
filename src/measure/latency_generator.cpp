#include "aether/measure/latency_generator.hpp"

#include <array>
#include <cstring>

namespace aether::measure {

LatencyGenerator::LatencyGenerator(const GeneratorConfig& config, net::Queue& queue, mem::Mempool& pool,
                                   const Clock& clock)
    : config_(config), queue_(queue), pool_(pool), cache_(pool, 64), clock_(clock) {
  if (config_.frame_size < net::udp_frame_header_size + sizeof(ProbePayload)) {
    config_.frame_size = net::udp_frame_header_size + sizeof(ProbePayload);
  }
  total_ = config_.warmup_probes + config_.probes;
  answered_.assign(total_, 0);
  if (config_.rate_per_second > 0) {
    period_ticks_ = std::max<std::uint64_t>(1, clock_.from_ns(static_cast<std::uint64_t>(1e9 / config_.rate_per_second)));
  }
}

bool LatencyGenerator::poll() noexcept {
  if (finished_.load(std::memory_order_relaxed)) return false;
  const std::uint64_t now = clock_.now();
  if (start_tick_ == 0) start_tick_ = now;
  send_due(now);
  receive(now);
  if (next_sequence_ == total_) {
    const bool all_answered = result_.received == result_.sent;
    if (all_answered || now - last_sent_tick_ > clock_.from_ns(config_.drain_ns)) finish(now);
  }
  return true;
}

void LatencyGenerator::send_due(std::uint64_t now) noexcept {
  if (next_sequence_ >= total_) return;
  std::uint64_t due = now;
  if (period_ticks_ == 0) {
    if (in_flight_) {
      if (now - in_flight_since_ < clock_.from_ns(config_.reply_timeout_ns)) return;
      in_flight_ = false;  // given up: counted lost at the end
    }
  } else {
    due = start_tick_ + next_sequence_ * period_ticks_;
    if (now < due) return;
  }
  mem::Packet* packet = nullptr;
  if (pool_.alloc_bulk(std::span(&packet, 1), &cache_) != 1) return;  // pool dry: try again next poll
  const std::size_t payload_size = config_.frame_size - net::udp_frame_header_size;
  const std::size_t length =
      net::write_udp_headers(std::span(packet->data(), packet->tailroom()), config_.source, config_.destination, payload_size);
  ProbePayload probe{probe_magic, next_sequence_, due, 0};
  std::memcpy(packet->data() + net::udp_frame_header_size, &probe, sizeof probe);
  if (length == 0 || !packet->set_length(static_cast<std::uint16_t>(length))) {
    pool_.free_bulk(std::span(&packet, 1), &cache_);
    return;
  }
  if (queue_.tx_burst(std::span(&packet, 1)) != 1) {
    pool_.free_bulk(std::span(&packet, 1), &cache_);  // not taken: the same probe goes again next poll
    return;
  }
  const std::uint64_t sent_at = clock_.now();
  if (result_.sent == 0) first_send_tick_ = sent_at;
  if (period_ticks_ != 0 && sent_at > due) {
    result_.late_send_ns_max = std::max(result_.late_send_ns_max, clock_.to_ns(sent_at - due));
  }
  ++result_.sent;
  ++next_sequence_;
  progress_sent_.store(result_.sent, std::memory_order_relaxed);
  last_sent_tick_ = sent_at;
  in_flight_ = true;
  in_flight_since_ = sent_at;
}

void LatencyGenerator::receive(std::uint64_t) noexcept {
  std::array<mem::Packet*, 32> burst{};
  const unsigned count = queue_.rx_burst(burst);
  if (count == 0) return;
  const std::uint64_t arrived = clock_.now();
  for (unsigned i = 0; i < count; ++i) {
    mem::Packet* packet = burst[i];
    net::FrameError error{};
    auto frame = net::parse_udp_frame(std::span(packet->data(), packet->length()), error);
    ProbePayload probe{};
    if (!frame || frame->payload.size() < sizeof probe) {
      ++result_.unexpected;
      continue;
    }
    std::memcpy(&probe, frame->payload.data(), sizeof probe);
    if (probe.magic != probe_magic || probe.sequence >= next_sequence_ || answered_[probe.sequence] != 0) {
      ++result_.unexpected;
      continue;
    }
    answered_[probe.sequence] = 1;
    ++result_.received;
    last_reply_tick_ = arrived;
    if (probe.sequence >= config_.warmup_probes && arrived >= probe.due_tick) {
      result_.round_trip_ns.record(clock_.to_ns(arrived - probe.due_tick));
    }
    if (probe.sequence + 1 == next_sequence_) in_flight_ = false;
  }
  pool_.free_bulk(std::span(burst.data(), count), &cache_);
}

void LatencyGenerator::finish(std::uint64_t now) noexcept {
  result_.lost = result_.sent - result_.received;
  const std::uint64_t end = result_.received > 0 ? last_reply_tick_ : now;
  result_.elapsed_ns = end > first_send_tick_ ? clock_.to_ns(end - first_send_tick_) : 0;
  // release: result_ is complete before anyone sees finished() == true.
  finished_.store(true, std::memory_order_release);
}

}  // namespace aether::measure
