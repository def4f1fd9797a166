// Registering the mempool region as a UMEM (see umem.hpp).
#include "umem.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace aether::backends::afxdp {
namespace {

// XDP_UMEM_MIN_CHUNK_SIZE, net/xdp/xdp_umem.c.
constexpr std::size_t kMinChunkSize = 2048;

std::string memlock_limit_text() {
  rlimit limit{};
  if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0) return "unknown";
  if (limit.rlim_cur == RLIM_INFINITY) return "unlimited";
  return fmt::format("{} KiB", limit.rlim_cur / 1024);
}

}  // namespace

Result<std::unique_ptr<Umem>> Umem::create(mem::Mempool& pool, std::uint32_t ring_size, const std::string& interface) {
  const std::size_t stride = pool.buffer_stride();
  const auto& region = pool.region();
  const std::string where = fmt::format("UMEM for '{}' on pool '{}'", interface, pool.name());
  // Aligned mode: the kernel finds a chunk by masking the address with
  // ~(chunk_size - 1), so the chunk size must be a power of two
  // (xdp_umem_reg, net/xdp/xdp_umem.c).
  if (stride < kMinChunkSize || (stride & (stride - 1)) != 0) {
    return invalid_argument(fmt::format("{}: buffer stride {} is not a power of two of at least {} (make the pool "
                                        "with default_packet_pool_config(), which rounds the stride up to 4096)",
                                        where, stride, kMinChunkSize));
  }
  const std::size_t page_size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  if (reinterpret_cast<std::uintptr_t>(region.base()) % page_size != 0) {
    return invalid_argument(fmt::format("{}: region base {} is not page aligned", where,
                                        static_cast<const void*>(region.base())));
  }
  // The whole region, in whole chunks: aligned mode refuses a length that is
  // not a multiple of the chunk size.
  const std::uint64_t length = region.length() - region.length() % stride;
  if (stride - kFrameHeadroom <= kXdpPacketHeadroom) {
    return invalid_argument(fmt::format("{}: buffer stride {} leaves no room after the {}-byte metadata and the "
                                        "{}-byte XDP headroom",
                                        where, stride, kFrameHeadroom, kXdpPacketHeadroom));
  }

  std::unique_ptr<Umem> umem(new Umem());
  umem->chunk_size_ = static_cast<std::uint32_t>(stride);
  umem->length_ = length;
  xsk_umem_config config{};
  config.fill_size = ring_size;
  config.comp_size = ring_size;
  config.frame_size = static_cast<std::uint32_t>(stride);
  config.frame_headroom = kFrameHeadroom;
  config.flags = 0;  // aligned chunks
  const int result = xsk_umem__create(&umem->umem_, region.base(), length, &umem->fill_, &umem->completion_, &config);
  if (result != 0) {
    umem->umem_ = nullptr;
    const int error = -result;
    std::string why;
    switch (error) {
      case EPERM:
      case EACCES: why = "creating an AF_XDP socket needs CAP_NET_RAW (run as root)"; break;
      case EAFNOSUPPORT: why = "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)"; break;
      case ENOBUFS:
      case ENOMEM:
        why = fmt::format("the kernel could not pin {} MiB: RLIMIT_MEMLOCK is {} and the process lacks "
                          "CAP_IPC_LOCK (raise it with 'ulimit -l unlimited' or run as root)",
                          length >> 20, memlock_limit_text());
        break;
      case EINVAL:
        why = fmt::format("registration refused: {} bytes at {} in {}-byte chunks with {} bytes of headroom "
                          "(chunks must be a power of two from {} to the page size {} on kernels before 6.6, the "
                          "area page aligned, the length a multiple of the chunk)",
                          length, static_cast<const void*>(region.base()), stride, kFrameHeadroom, kMinChunkSize,
                          page_size);
        break;
      default: why = std::strerror(error); break;
    }
    return errno_error(fmt::format("cannot create the {}: {}", where, why), error);
  }
  // libxdp opens the socket without SOCK_CLOEXEC; a child exec'd later
  // (ip, ethtool) must not keep the socket and its pinned UMEM alive.
  const int fd = xsk_umem__fd(umem->umem_);
  if (fd >= 0) (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  return umem;
}

Umem::~Umem() {
  // Returns -EBUSY (and does nothing) while a socket still uses the UMEM;
  // the port deletes the socket first, so this closes the fd, which releases
  // the socket and unpins the memory.
  if (umem_ != nullptr) (void)xsk_umem__delete(umem_);
}

}  // namespace aether::backends::afxdp
