// XskSocket: one AF_XDP socket bound to an interface queue on a Umem, with
// its rx and tx rings; plus the socket options the port negotiates (busy
// polling, the copy-mode tx budget) and the kernel's drop counters.
#pragma once

#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "umem.hpp"

namespace aether::backends::afxdp {

struct XskSocketConfig {
  std::string interface;
  std::uint32_t queue = 0;
  std::uint32_t ring_size = 2048;
  // XDP_ZEROCOPY or XDP_COPY, plus XDP_USE_NEED_WAKEUP (linux/if_xdp.h).
  std::uint16_t bind_flags = 0;
};

class XskSocket {
 public:
  // Creates the socket on `umem` (libxdp reuses the UMEM's fd) without
  // loading any program (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD) and binds it.
  // Errors say what the bind refused.
  [[nodiscard]] static Result<std::unique_ptr<XskSocket>> create(Umem& umem, const XskSocketConfig& config);
  ~XskSocket();
  XskSocket(const XskSocket&) = delete;
  XskSocket& operator=(const XskSocket&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] xsk_ring_cons& rx_ring() noexcept { return rx_; }
  [[nodiscard]] xsk_ring_prod& tx_ring() noexcept { return tx_; }

  // XDP_OPTIONS: whether the bind ended in zero-copy mode.
  [[nodiscard]] bool zero_copy() const noexcept;

  // SO_PREFER_BUSY_POLL, SO_BUSY_POLL, SO_BUSY_POLL_BUDGET. Options the
  // kernel refuses are skipped; a note per refusal is appended to `notes`.
  // Returns whether busy polling is on (SO_BUSY_POLL accepted).
  bool enable_busy_poll(std::uint32_t usec, std::uint32_t budget, std::vector<std::string>& notes) const;

  // Copy mode sends at most 32 frames per sendto() (TX_BATCH_SIZE,
  // net/xdp/xsk.c); Linux 6.17 added XDP_MAX_TX_SKB_BUDGET to raise that to
  // up to the tx ring size. Tries `budget`; appends a note either way.
  void raise_copy_tx_budget(std::uint32_t budget, std::vector<std::string>& notes) const;

  // getsockopt(XDP_STATISTICS); false if the kernel refused (the struct is
  // then zero). Any thread.
  bool statistics(xdp_statistics& out) const noexcept;

 private:
  XskSocket() = default;
  xsk_socket* socket_ = nullptr;
  int fd_ = -1;
  // libxdp keeps pointers to these until xsk_socket__delete: never moved.
  xsk_ring_cons rx_{};
  xsk_ring_prod tx_{};
};

}  // namespace aether::backends::afxdp
