// The peer prober behind `aether ping` (see ping.hpp): a poller on a
// runtime worker, or ping_peer on the calling thread. It allocates only
// before the exchange (the reply bitmaps, the send times, the round-trip
// histogram); per frame it does no allocation or syscall.
#include "aether/dataplane/ping.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "aether/net/arp.hpp"
#include "aether/net/icmp.hpp"

namespace aether::dataplane {
namespace {

using Clock = std::chrono::steady_clock;

// Payload of every request: the sequence number, then bytes derived from it,
// so a reply proves the peer echoed what it got, not just that it answered.
void write_payload(std::byte* payload, std::size_t size, std::uint32_t sequence) noexcept {
  std::memcpy(payload, &sequence, sizeof sequence);
  for (std::size_t i = sizeof sequence; i < size; ++i) payload[i] = std::byte((sequence * 131 + i) & 0xff);
}

std::optional<std::uint32_t> read_payload(std::span<const std::byte> payload, std::size_t expected_size) noexcept {
  std::uint32_t sequence = 0;
  if (payload.size() != expected_size) return std::nullopt;
  std::memcpy(&sequence, payload.data(), sizeof sequence);
  for (std::size_t i = sizeof sequence; i < payload.size(); ++i) {
    if (payload[i] != std::byte((sequence * 131 + i) & 0xff)) return std::nullopt;
  }
  return sequence;
}

bool stop_requested(const std::atomic<bool>* stop) noexcept {
  return stop != nullptr && stop->load(std::memory_order_relaxed);
}

}  // namespace

class PingPoller::Exchange {
 public:
  Exchange(net::Queue& queue, mem::Mempool& pool, const PingOptions& options, LatencyHistogram& round_trips)
      : queue_(queue),
        pool_(pool),
        options_(options),
        round_trips_(round_trips),
        icmp_seen_(options.count, false),
        udp_seen_(options.count, false),
        icmp_sent_at_(options.count) {}

  void send_arp_request() noexcept {
    mem::Packet* packet = allocate();
    if (packet == nullptr) return;
    const std::size_t length =
        net::write_arp_request(std::span(packet->data(), packet->tailroom()), options_.local.mac, options_.local.ip_be,
                               options_.peer_ip_be);
    if (send(packet, length)) ++report_.arp_requests_sent;
  }

  void send_icmp_request(std::uint32_t sequence) noexcept {
    mem::Packet* packet = allocate();
    if (packet == nullptr) return;
    write_payload(packet->data() + net::icmp_echo_frame_header_size, options_.payload_size, sequence);
    const std::size_t length = net::write_icmp_echo_request(
        std::span(packet->data(), packet->tailroom()), options_.local.mac, options_.local.ip_be, *report_.peer_mac,
        options_.peer_ip_be, options_.icmp_identifier, static_cast<std::uint16_t>(sequence), options_.payload_size);
    icmp_sent_at_[sequence] = Clock::now();
    if (send(packet, length)) ++report_.icmp_sent;
  }

  void send_udp_datagram(std::uint32_t sequence) noexcept {
    mem::Packet* packet = allocate();
    if (packet == nullptr) return;
    write_payload(packet->data() + net::udp_frame_header_size, options_.payload_size, sequence);
    const net::UdpEndpoint source{options_.local.mac, options_.local.ip_be, htons(options_.local_udp_port)};
    const net::UdpEndpoint destination{*report_.peer_mac, options_.peer_ip_be, htons(options_.udp_port)};
    const std::size_t length = net::write_udp_headers(std::span(packet->data(), packet->tailroom()), source,
                                                      destination, options_.payload_size);
    if (send(packet, length)) ++report_.udp_sent;
  }

  // One receive burst: every frame handled and freed (or sent back).
  // Returns how many frames arrived.
  unsigned poll() noexcept {
    std::array<mem::Packet*, 32> burst{};
    const unsigned count = queue_.rx_burst(burst);
    if (count == 0) {
      (void)queue_.tx_burst(std::span<mem::Packet*>());  // reap completions while idle
      return 0;
    }
    report_.received += count;
    for (unsigned i = 0; i < count; ++i) handle(burst[i]);
    return count;
  }

  [[nodiscard]] bool all_answered() const noexcept {
    return report_.icmp_replies == report_.icmp_sent && report_.udp_replies == report_.udp_sent;
  }
  PingReport& report() noexcept { return report_; }

 private:
  mem::Packet* allocate() noexcept {
    mem::Packet* packet = nullptr;
    if (pool_.alloc_bulk(std::span(&packet, 1)) != 1) {
      ++report_.not_sent;
      return nullptr;
    }
    return packet;
  }

  // Offers one frame; false (counted) when it could not be built or taken.
  bool send(mem::Packet* packet, std::size_t length) noexcept {
    if (length == 0 || !packet->set_length(static_cast<std::uint16_t>(length))) {
      pool_.free_bulk(std::span(&packet, 1));
      ++report_.not_sent;
      return false;
    }
    return send_back(packet);
  }

  bool send_back(mem::Packet* packet) noexcept {
    if (queue_.tx_burst(std::span(&packet, 1)) == 1) return true;
    pool_.free_bulk(std::span(&packet, 1));
    ++report_.not_sent;
    return false;
  }

  void handle(mem::Packet* packet) noexcept {
    if (!handle_known(*packet)) {
      ++report_.other_frames;
      pool_.free_bulk(std::span(&packet, 1));
    }
  }

  // True when the packet was consumed (sent back or counted and freed).
  bool handle_known(mem::Packet& packet) noexcept {
    mem::Packet* self = &packet;
    const std::span<std::byte> bytes(packet.data(), packet.length());
    if (bytes.size() < sizeof(net::EthernetHeader)) return false;
    const auto ether_type = ntohs(reinterpret_cast<const net::EthernetHeader*>(bytes.data())->ether_type_be);
    if (ether_type == net::ether_type_arp) {
      const auto arp = net::parse_arp_frame(bytes);
      if (!arp) return false;
      if (ntohs(arp->arp->operation_be) == net::arp_operation_reply && arp->arp->sender_ip_be == options_.peer_ip_be) {
        ++report_.arp_replies;
        if (!report_.peer_mac) report_.peer_mac = arp->arp->sender_mac;
        pool_.free_bulk(std::span(&self, 1));
        return true;
      }
      if (answer_arp(packet, options_.local) != LocalAnswer::reply) return false;
      if (send_back(self)) ++report_.peer_arp_requests_answered;
      return true;
    }
    net::FrameError frame_error{};
    const auto ipv4 = net::parse_ipv4_frame(bytes, frame_error);
    if (!ipv4 || ipv4->ip->source_be != options_.peer_ip_be || ipv4->ip->destination_be != options_.local.ip_be) {
      return false;
    }
    if (ipv4->ip->protocol == net::ip_protocol_icmp) {
      net::IcmpError icmp_error{};
      const auto echo = net::parse_icmp_echo(*ipv4, icmp_error);
      if (!echo) return false;
      if (echo->icmp->type == net::icmp_type_echo_request) {
        if (answer_icmp(*ipv4, options_.local) != LocalAnswer::reply) return false;
        if (send_back(self)) ++report_.peer_icmp_requests_answered;
        return true;
      }
      if (ntohs(echo->icmp->identifier_be) != options_.icmp_identifier) return false;
      const auto sequence = read_payload(echo->message.subspan(sizeof(net::IcmpEchoHeader)), options_.payload_size);
      if (!sequence || *sequence != ntohs(echo->icmp->sequence_be)) return false;
      if (*sequence < icmp_seen_.size() && !icmp_seen_[*sequence]) {
        round_trips_.record(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - icmp_sent_at_[*sequence]).count()));
      }
      return mark(icmp_seen_, *sequence, report_.icmp_replies, self);
    }
    const auto udp = net::parse_udp_payload(*ipv4, frame_error);
    if (!udp || ntohs(udp->udp->source_port_be) != options_.udp_port ||
        ntohs(udp->udp->destination_port_be) != options_.local_udp_port) {
      return false;
    }
    const auto sequence = read_payload(udp->payload, options_.payload_size);
    if (!sequence) return false;
    return mark(udp_seen_, *sequence, report_.udp_replies, self);
  }

  bool mark(std::vector<bool>& seen, std::uint32_t sequence, std::uint64_t& replies, mem::Packet* packet) noexcept {
    if (sequence >= seen.size()) return false;
    if (seen[sequence]) {
      ++report_.duplicate_replies;
    } else {
      seen[sequence] = true;
      ++replies;
    }
    pool_.free_bulk(std::span(&packet, 1));
    return true;
  }

  net::Queue& queue_;
  mem::Mempool& pool_;
  const PingOptions& options_;
  LatencyHistogram& round_trips_;
  PingReport report_;
  std::vector<bool> icmp_seen_;
  std::vector<bool> udp_seen_;
  std::vector<Clock::time_point> icmp_sent_at_;  // per sequence number, for the round trip
};

bool PingReport::complete(const PingOptions& options) const noexcept {
  const std::uint64_t udp_expected = options.udp_port == 0 ? 0 : options.count;
  return peer_mac.has_value() && icmp_sent == options.count && icmp_replies == options.count &&
         udp_sent == udp_expected && udp_replies == udp_expected && duplicate_replies == 0;
}

Result<std::unique_ptr<PingPoller>> PingPoller::create(net::Queue& queue, mem::Mempool& pool,
                                                       const PingOptions& options) {
  if (options.count == 0 || options.count > 0x10000) {
    return invalid_argument(fmt::format("ping: count {} must be 1 to 65536 (the ICMP sequence number is 16 bits)",
                                        options.count));
  }
  if (options.payload_size < sizeof(std::uint32_t) || options.payload_size > 1400) {
    return invalid_argument(fmt::format("ping: payload size {} must be 4 to 1400 bytes", options.payload_size));
  }
  return std::unique_ptr<PingPoller>(new PingPoller(queue, pool, options));
}

PingPoller::PingPoller(net::Queue& queue, mem::Mempool& pool, const PingOptions& options)
    : options_(options), exchange_(std::make_unique<Exchange>(queue, pool, options_, round_trips_.live())) {}


PingPoller::~PingPoller() = default;

const PingReport& PingPoller::report() const noexcept { return exchange_->report(); }

void PingPoller::finish() noexcept {
  // Frames already on their way (the last replies' duplicates, the peer's
  // ARP) would otherwise sit in the ring unaccounted for: take one more burst.
  exchange_->poll();
  exchange_->report().stopped = stop_requested_.load(std::memory_order_relaxed);
  phase_ = Phase::done;
  round_trips_.publish();
  done_.store(true, std::memory_order_release);  // release: the report is written before
}

bool PingPoller::poll() noexcept {
  if (phase_ == Phase::done) return false;
  const bool stopping = stop_requested_.load(std::memory_order_relaxed);  // a flag; the report carries no data from it
  bool worked = exchange_->poll() > 0;
  PingReport& report = exchange_->report();
  const auto now = Clock::now();
  switch (phase_) {
    case Phase::arp:
      // RFC 826: ask, and ask again after a timeout (RFC 1122 2.3.2.1 limits
      // the rate to one per second per address).
      if (report.peer_mac) {
        phase_ = Phase::requests;
        deadline_ = now;
      } else if (stopping) {
        finish();
      } else if (now >= deadline_) {
        if (arp_attempts_made_ == options_.arp_attempts) {
          finish();
        } else {
          exchange_->send_arp_request();
          ++arp_attempts_made_;
          deadline_ = now + options_.arp_timeout;
          worked = true;
        }
      }
      break;
    case Phase::requests:
      if (stopping) {
        finish();
      } else if (now >= deadline_) {
        exchange_->send_icmp_request(sequence_);
        if (options_.udp_port != 0) exchange_->send_udp_datagram(sequence_);
        deadline_ += options_.interval;
        worked = true;
        if (++sequence_ == options_.count) {
          phase_ = Phase::late_replies;
          deadline_ = now + options_.reply_timeout;
        }
      }
      break;
    case Phase::late_replies:
      if (stopping || exchange_->all_answered() || now >= deadline_) finish();
      break;
    case Phase::done:
      break;
  }
  round_trips_.publish();
  return worked;
}

Result<PingReport> ping_peer(net::Queue& queue, mem::Mempool& pool, const PingOptions& options,
                             const std::atomic<bool>* stop) {
  auto poller = PingPoller::create(queue, pool, options);
  if (!poller) return std::move(poller).error();
  while (!(*poller)->done()) {
    if (stop_requested(stop)) (*poller)->stop();
    (*poller)->poll();
  }
  return (*poller)->report();
}

}  // namespace aether::dataplane
