// AfxdpQueue: the data path of one AF_XDP socket (rx.cpp, tx.cpp), plus the
// bookkeeping both share (queue.cpp): buffer ledger, wakeups, kernel counters.
//
// Rings (Documentation/networking/af_xdp.rst): we produce on fill and tx,
// the kernel consumes them; the kernel produces on rx and completion, we
// consume them. libxdp's xsk_ring_* helpers do the index arithmetic with
// the pairing that matters: our producer index is published with a release
// store after the descriptors are written (xsk_ring_prod__submit), and the
// kernel's producer index is read with an acquire load before its
// descriptors are (xsk_cons_nb_avail); the mirror pairs hold for the
// consumer indices.
//
// Syscalls, all MSG_DONTWAIT, at most one per burst, except that tx retries
// up to 4 times while the kernel answers EAGAIN and frames remain (copy mode
// before Linux 6.17 sends at most 32 frames per sendto):
//   recvfrom: rx_burst found nothing and (the fill ring says
//             XDP_RING_NEED_WAKEUP, or busy_poll=1: then the syscall runs the
//             driver's NAPI poll that brings the frames).
//   sendto:   tx_burst queued frames and (the tx ring says
//             XDP_RING_NEED_WAKEUP, always true in copy mode, or busy_poll=1).
//   getsockopt(XDP_STATISTICS): every ~100 ms, checked every 256 bursts.
#pragma once

#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include <cstdint>
#include <span>
#include <vector>

#include "aether/backends/afxdp_port.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port.hpp"
#include "aether/net/readiness_fd.hpp"
#include "aether/net/rx_clock.hpp"
#include "buffer_ledger.hpp"
#include "socket.hpp"
#include "umem.hpp"

namespace aether::backends::afxdp {

struct QueueConfig {
  std::uint16_t port_id = 0;
  std::uint16_t queue_id = 0;          // stamped into Packet::queue
  std::uint32_t fill_target = 0;       // buffers kept in the kernel for rx
  std::uint32_t max_tx_frame = 1518;   // MTU + Ethernet header + one VLAN tag
  std::uint32_t ring_size = 2048;      // entries of each of the four rings
  bool busy_poll = false;
  bool zero_copy = false;
};

class AfxdpQueue final : public net::Queue {
 public:
  // Borrows everything: the port owns the pool, UMEM, socket and ledger and
  // destroys the queue first.
  AfxdpQueue(mem::Mempool& pool, Umem& umem, XskSocket& socket, BufferLedger& ledger, const QueueConfig& config);
  ~AfxdpQueue() override = default;

  unsigned rx_burst(std::span<net::Packet*> packets) noexcept override;
  unsigned tx_burst(std::span<net::Packet*> packets) noexcept override;

  // Puts fill_target buffers on the fill ring. Control path (open).
  void prime_fill_ring() noexcept;

  // Exact kernel counters now plus this queue's own, as xstats. Any thread.
  void append_xstats(std::vector<net::XStat>& out) const;

  // wait=block: an epoll fd on the XSK socket (net::ReadinessFd); else -1.
  [[nodiscard]] int rx_interrupt_fd() const noexcept override { return interrupt_.fd(); }
  void set_interrupt(net::ReadinessFd interrupt) noexcept { interrupt_ = std::move(interrupt); }

  // The most frames one burst call handles; larger spans are served in part.
  static constexpr std::uint32_t kMaxBurst = 256;

 private:
  // rx.cpp
  void refill_fill_ring() noexcept;
  [[nodiscard]] net::Packet* packet_for_rx(const xdp_desc& descriptor) noexcept;
  // tx.cpp
  void reap_completions() noexcept;
  void kick_tx() noexcept;
  [[nodiscard]] net::Packet* copy_foreign(net::Packet* packet) noexcept;
  // queue.cpp
  void housekeeping() noexcept;
  void fold_kernel_statistics() noexcept;
  void wake_rx() noexcept;

  // Hot, read every burst.
  xsk_ring_cons* rx_;
  xsk_ring_prod* fill_;
  xsk_ring_prod* tx_;
  xsk_ring_cons* completion_;
  mem::Mempool* pool_;
  BufferLedger* ledger_;
  const net::RxClock* rx_clock_;   // Packet::timestamp: the poll time
  std::uint64_t chunk_mask_;       // ~(chunk_size - 1)
  std::uint32_t kernel_rx_buffers_ = 0;  // given on the fill ring, not yet back on rx
  std::uint32_t bursts_ = 0;
  bool tx_kick_pending_ = false;   // a sendto left frames in the tx ring (EAGAIN/EBUSY)

  // Cold.
  XskSocket* socket_;
  QueueConfig config_;
  mem::MempoolCache cache_;
  std::uint64_t next_statistics_ns_ = 0;
  xdp_statistics folded_{};        // kernel counters already added to counters_
  net::ReadinessFd interrupt_;

  // Diagnostics, single writer (this queue's thread), relaxed.
  net::QueueCounters::Counter tx_foreign_copies_;
  net::QueueCounters::Counter invalid_kernel_addresses_;
  net::QueueCounters::Counter tx_wakeups_;
  net::QueueCounters::Counter rx_wakeups_;
};

}  // namespace aether::backends::afxdp
