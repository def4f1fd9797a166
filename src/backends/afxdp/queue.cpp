// AfxdpQueue bookkeeping shared by rx and tx: construction, wakeups and the
// kernel's drop counters.
#include "queue.hpp"

#include <sys/socket.h>

#include <algorithm>

#include "aether/core/clock.hpp"

namespace aether::backends::afxdp {
namespace {

// How often the worker folds XDP_STATISTICS into its counters. A getsockopt
// costs around a microsecond; at 10 Hz that is invisible in a p99.99 and
// drops still show up within a tenth of a second. The clock itself is read
// only every kStatisticsCheckMask + 1 bursts (vDSO, tens of ns).
constexpr std::uint64_t kStatisticsIntervalNs = 100'000'000;
constexpr std::uint32_t kStatisticsCheckMask = 255;

}  // namespace

AfxdpQueue::AfxdpQueue(mem::Mempool& pool, Umem& umem, XskSocket& socket, BufferLedger& ledger,
                       const QueueConfig& config)
    : rx_(&socket.rx_ring()),
      fill_(&umem.fill_ring()),
      tx_(&socket.tx_ring()),
      completion_(&umem.completion_ring()),
      pool_(&pool),
      ledger_(&ledger),
      rx_clock_(&net::RxClock::process()),
      chunk_mask_(~(std::uint64_t{umem.chunk_size()} - 1)),
      socket_(&socket),
      config_(config),
      cache_(pool) {}

void AfxdpQueue::prime_fill_ring() noexcept {
  // refill_fill_ring adds up to kMaxBurst per call; stop when it adds none
  // (target reached or pool exhausted).
  for (std::uint32_t before = kernel_rx_buffers_ + 1; kernel_rx_buffers_ != before;) {
    before = kernel_rx_buffers_;
    refill_fill_ring();
  }
}

void AfxdpQueue::housekeeping() noexcept {
  if ((++bursts_ & kStatisticsCheckMask) != 0) return;
  const std::uint64_t now = monotonic_raw_ns();
  if (now < next_statistics_ns_) return;
  next_statistics_ns_ = now + kStatisticsIntervalNs;
  fold_kernel_statistics();
}

void AfxdpQueue::fold_kernel_statistics() noexcept {
  xdp_statistics now{};
  if (!socket_->statistics(now)) return;
  const std::uint64_t rx_dropped = now.rx_dropped - folded_.rx_dropped;
  const std::uint64_t fill_empty = now.rx_fill_ring_empty_descs - folded_.rx_fill_ring_empty_descs;
  const std::uint64_t ring_full = now.rx_ring_full - folded_.rx_ring_full;
  const std::uint64_t rx_invalid = now.rx_invalid_descs - folded_.rx_invalid_descs;
  const std::uint64_t tx_invalid = now.tx_invalid_descs - folded_.tx_invalid_descs;
  folded_ = now;
  // Copy mode counts a frame that found the fill ring empty twice: in
  // rx_fill_ring_empty_descs and in rx_dropped (__xsk_rcv, net/xdp/xsk.c).
  // Count it once, as "no buffer". In zero-copy mode fill_empty counts the
  // times the driver found no buffer, an approximation of the frames lost.
  const std::uint64_t other_drops = config_.zero_copy ? rx_dropped : rx_dropped - std::min(rx_dropped, fill_empty);
  if (fill_empty != 0) counters_.rx_drop_no_buffer.add(fill_empty);
  if (other_drops + ring_full + rx_invalid != 0) counters_.rx_drop_kernel.add(other_drops + ring_full + rx_invalid);
  if (tx_invalid != 0) counters_.tx_drop_error.add(tx_invalid);
}

void AfxdpQueue::wake_rx() noexcept {
  rx_wakeups_.add(1);
  // A zero-length non-blocking recvfrom: runs sk_busy_loop when busy
  // polling is on, and the driver's ndo_xsk_wakeup in zero-copy mode
  // (xsk_recvmsg, net/xdp/xsk.c). Nothing to read; the result is ignored.
  (void)recvfrom(socket_->fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
}

void AfxdpQueue::append_xstats(std::vector<net::XStat>& out) const {
  xdp_statistics kernel{};
  (void)socket_->statistics(kernel);
  out.push_back({"kernel_rx_dropped", kernel.rx_dropped});
  out.push_back({"kernel_rx_invalid_descs", kernel.rx_invalid_descs});
  out.push_back({"kernel_tx_invalid_descs", kernel.tx_invalid_descs});
  out.push_back({"kernel_rx_ring_full", kernel.rx_ring_full});
  out.push_back({"kernel_rx_fill_ring_empty_descs", kernel.rx_fill_ring_empty_descs});
  out.push_back({"kernel_tx_ring_empty_descs", kernel.tx_ring_empty_descs});
  out.push_back({"tx_foreign_copies", tx_foreign_copies_.get()});
  out.push_back({"invalid_kernel_addresses", invalid_kernel_addresses_.get()});
  out.push_back({"tx_wakeups", tx_wakeups_.get()});
  out.push_back({"rx_wakeups", rx_wakeups_.get()});
  out.push_back({"fill_ring_target", config_.fill_target});
  out.push_back({"zero_copy", config_.zero_copy ? 1u : 0u});
}

}  // namespace aether::backends::afxdp
