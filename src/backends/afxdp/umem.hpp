// Umem: the Aether mempool region registered as an AF_XDP UMEM, with its
// fill and completion rings (Documentation/networking/af_xdp.rst, "UMEM").
//
// Geometry (aligned mode): chunk i is mempool buffer i, chunk_size =
// buffer_stride() (a power of two), frame headroom = sizeof(Packet) = 64.
// The kernel places received data at
//     chunk + frame_headroom + XDP_PACKET_HEADROOM = chunk + 64 + 256,
// which is Packet::data() for data_offset = 256: the frame lands in the
// packet buffer, and the Packet metadata in the first 64 bytes of the chunk
// is never written by the kernel (net/xdp/xsk_buff_pool.c, xp_init_xskb_addr:
// data_hard_start = chunk + headroom).
//
// The UMEM socket fd is also the fd of the (first and only) AF_XDP socket
// libxdp binds on it (xsk_socket__create reuses it), so deleting the Umem is
// what finally closes the socket; the XskSocket must be deleted first.
#pragma once

#include <xdp/xsk.h>

#include <cstdint>
#include <memory>
#include <string>

#include "aether/core/result.hpp"
#include "aether/mem/mempool.hpp"

namespace aether::backends::afxdp {

// The bytes of data the kernel may write per chunk:
// chunk_size - frame_headroom - XDP_PACKET_HEADROOM (xsk_pool_get_rx_frame_size).
inline constexpr std::uint32_t kXdpPacketHeadroom = 256;  // XDP_PACKET_HEADROOM, include/uapi/linux/bpf.h
inline constexpr std::uint32_t kFrameHeadroom = sizeof(mem::Packet);
static_assert(kFrameHeadroom == 64, "the UMEM frame headroom is the Packet metadata line");

class Umem {
 public:
  // Registers pool.region() (rounded down to whole chunks) with fill and
  // completion rings of `ring_size` entries. Errors name the interface (for
  // context), the pool, the size and the chunk size, and say when
  // RLIMIT_MEMLOCK is the likely cause.
  [[nodiscard]] static Result<std::unique_ptr<Umem>> create(mem::Mempool& pool, std::uint32_t ring_size,
                                                            const std::string& interface);
  ~Umem();
  Umem(const Umem&) = delete;
  Umem& operator=(const Umem&) = delete;

  [[nodiscard]] xsk_umem* handle() noexcept { return umem_; }
  [[nodiscard]] xsk_ring_prod& fill_ring() noexcept { return fill_; }
  [[nodiscard]] xsk_ring_cons& completion_ring() noexcept { return completion_; }
  [[nodiscard]] std::uint32_t chunk_size() const noexcept { return chunk_size_; }
  [[nodiscard]] std::uint64_t length() const noexcept { return length_; }
  // Bytes of frame data the kernel can place in one chunk.
  [[nodiscard]] std::uint32_t rx_frame_capacity() const noexcept {
    return chunk_size_ - kFrameHeadroom - kXdpPacketHeadroom;
  }

 private:
  Umem() = default;
  xsk_umem* umem_ = nullptr;
  // libxdp keeps pointers to these two (xsk_umem__create stores them for
  // xsk_socket__create, which reads them again in xsk_socket__delete), so
  // the Umem never moves: it lives behind a unique_ptr.
  xsk_ring_prod fill_{};
  xsk_ring_cons completion_{};
  std::uint32_t chunk_size_ = 0;
  std::uint64_t length_ = 0;
};

}  // namespace aether::backends::afxdp
