#include "aether/net/port.hpp"

#include "aether/net/xstat.hpp"

namespace aether::net {

QueueStats& QueueStats::operator+=(const QueueStats& other) noexcept {
  rx_packets += other.rx_packets;
  rx_bytes += other.rx_bytes;
  tx_packets += other.tx_packets;
  tx_bytes += other.tx_bytes;
  rx_drop_no_buffer += other.rx_drop_no_buffer;
  rx_drop_bad_frame += other.rx_drop_bad_frame;
  rx_drop_truncated += other.rx_drop_truncated;
  rx_drop_kernel += other.rx_drop_kernel;
  tx_drop_error += other.tx_drop_error;
  tx_drop_bad_frame += other.tx_drop_bad_frame;
  return *this;
}

QueueStats QueueCounters::snapshot() const noexcept {
  QueueStats stats;
  stats.rx_packets = rx_packets.get();
  stats.rx_bytes = rx_bytes.get();
  stats.tx_packets = tx_packets.get();
  stats.tx_bytes = tx_bytes.get();
  stats.rx_drop_no_buffer = rx_drop_no_buffer.get();
  stats.rx_drop_bad_frame = rx_drop_bad_frame.get();
  stats.rx_drop_truncated = rx_drop_truncated.get();
  stats.rx_drop_kernel = rx_drop_kernel.get();
  stats.tx_drop_error = tx_drop_error.get();
  stats.tx_drop_bad_frame = tx_drop_bad_frame.get();
  return stats;
}

const char* to_string(LinkState state) noexcept {
  switch (state) {
    case LinkState::up: return "up";
    case LinkState::down: return "down";
    case LinkState::unknown: break;
  }
  return "unknown";
}

const char* to_string(RxTimestampSource source) noexcept {
  switch (source) {
    case RxTimestampSource::poll_time: return "poll time";
    case RxTimestampSource::kernel: return "kernel";
    case RxTimestampSource::device: return "device";
    case RxTimestampSource::none: break;
  }
  return "none";
}

namespace {
Error unsupported(const PortInfo& info, const char* what) {
  return Error{std::make_error_code(std::errc::operation_not_supported),
                     info.spec + ": " + info.kind + " ports do not support " + what + " yet"};
}
}  // namespace

Result<void> Port::join_multicast(std::uint32_t /*group_be*/) { return unsupported(info(), "joining a multicast group"); }
Result<void> Port::leave_multicast(std::uint32_t /*group_be*/) { return unsupported(info(), "leaving a multicast group"); }
Result<void> Port::set_promiscuous(bool /*enabled*/) { return unsupported(info(), "promiscuous mode"); }

QueueStats Port::stats() noexcept {
  QueueStats total;
  for (unsigned i = 0; i < info().queue_count; ++i) total += queue(i).stats();
  return total;
}

std::uint64_t xstat_or_zero(const Port& port, std::string_view name) {
  for (const XStat& stat : port.xstats()) {
    if (stat.name == name) return stat.value;
  }
  return 0;
}

}  // namespace aether::net
