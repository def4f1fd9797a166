#include "aether/mem/mempool.hpp"

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

#include "aether/core/log.hpp"

namespace aether::mem {
namespace {

constexpr std::size_t kCacheLine = 64;

constexpr std::size_t round_up_to_line(std::size_t bytes) { return (bytes + kCacheLine - 1) & ~(kCacheLine - 1); }

}  // namespace

Result<std::unique_ptr<Mempool>> Mempool::create(const MempoolConfig& config) {
  const std::string& name = config.name;
  if (config.count == 0 || config.count > kMaxBufferCount) {
    return invalid_argument(
        fmt::format("mempool '{}': count {} is out of range 1..{}", name, config.count, kMaxBufferCount));
  }
  if (config.data_room < kMinDataRoom) {
    return invalid_argument(
        fmt::format("mempool '{}': data_room {} is below the minimum {}", name, config.data_room, kMinDataRoom));
  }
  if (config.cache_size > MempoolCache::kMaxSize) {
    return invalid_argument(fmt::format("mempool '{}': cache_size {} is above the maximum {}", name,
                                        config.cache_size, MempoolCache::kMaxSize));
  }
  // Packet::data_offset and Packet::buffer_length are 16-bit.
  constexpr std::size_t kMaxBufferLength = std::numeric_limits<std::uint16_t>::max();
  if (config.headroom > kMaxBufferLength || config.data_room > kMaxBufferLength - config.headroom) {
    return invalid_argument(fmt::format("mempool '{}': headroom {} + data_room {} exceeds {} bytes per buffer", name,
                                        config.headroom, config.data_room, kMaxBufferLength));
  }

  std::size_t stride = round_up_to_line(sizeof(Packet) + config.headroom + config.data_room);
  if (config.stride_power_of_two) stride = std::bit_ceil(stride);
  if (stride - sizeof(Packet) > kMaxBufferLength) {
    return invalid_argument(fmt::format("mempool '{}': stride {} (power of two) leaves {} bytes after the metadata, "
                                        "above the 16-bit limit {}; lower data_room",
                                        name, stride, stride - sizeof(Packet), kMaxBufferLength));
  }

  RegionOptions region_options = config.region;
  region_options.required_bytes = std::size_t{config.count} * stride;
  region_options.name = name;
  Result<MemoryRegion> region = MemoryRegion::create(region_options);
  if (!region.ok()) {
    Error error = std::move(region).error();
    error.message = fmt::format("mempool '{}' ({} buffers of {} bytes): {}", name, config.count, stride,
                                error.message);
    return error;
  }
  // Not make_unique: the constructor is private.
  std::unique_ptr<Mempool> pool(
      new Mempool(config, std::move(region).value(), stride, static_cast<std::uint16_t>(stride - sizeof(Packet))));
  log::debug("mempool '{}': {} buffers, stride {}, headroom {}, data room {}, {} region of {} bytes", name,
             pool->capacity(), stride, pool->headroom(), pool->data_room(),
             pool->region().uses_hugepages() ? "hugepage" : "normal-page", pool->region().length());
  return pool;
}

Mempool::Mempool(const MempoolConfig& config, MemoryRegion region, std::size_t stride, std::uint16_t buffer_length)
    : name_(config.name),
      region_(std::move(region)),
      base_(region_.base()),
      stride_(stride),
      buffers_bytes_(std::uint64_t{config.count} * stride),
      count_(config.count),
      stride_shift_(std::has_single_bit(stride) ? static_cast<std::uint32_t>(std::countr_zero(stride)) : 0),
      headroom_(static_cast<std::uint16_t>(config.headroom)),
      buffer_length_(buffer_length),
      default_cache_size_(config.cache_size),
      // Twice the buffer count: a push then only finds its slot still taken
      // if a thread stalled mid-operation while the ring went round a lap of
      // 2 x count, not whenever the pool is nearly full (see index_ring.hpp).
      ring_(2 * config.count) {
  for (std::uint32_t index = 0; index < count_; ++index) {
    Packet* packet = packet_at(index);
    *packet = Packet{};  // zeroes the reserved words too
    packet->pool = this;
    packet->buffer_index = index;
    packet->buffer_length = buffer_length_;
    packet->debug_state = kPacketStateFree;
    packet->reset(headroom_);
  }
  std::uint32_t batch[kBatch];
  for (std::uint32_t first = 0; first < count_; first += kBatch) {
    const unsigned batched = count_ - first < kBatch ? count_ - first : kBatch;
    for (unsigned i = 0; i < batched; ++i) batch[i] = first + i;
    push_all(batch, batched);
  }
}

Mempool::~Mempool() {
  // relaxed: destruction must already be ordered after every user of the
  // pool (joined threads); this is only a diagnostic.
  const std::uint32_t caches = live_caches_.load(std::memory_order_relaxed);
#ifndef NDEBUG
  if (caches != 0) {
    std::fprintf(stderr, "aether: mempool '%s' destroyed while %u MempoolCache(s) still use it\n", name_.c_str(),
                 caches);
    std::abort();
  }
#endif
  const std::size_t free_buffers = available();
  if (free_buffers != count_) {
    log::warn("mempool '{}' destroyed with {} of {} buffers not returned{}", name_, count_ - free_buffers, count_,
              caches != 0 ? " (some may sit in MempoolCaches that outlive the pool)" : "");
  }
}

void Mempool::check_owned(const Packet* packet) const noexcept {
  // Integer arithmetic: the pointer may come from anywhere.
  const auto address = reinterpret_cast<std::uintptr_t>(packet);
  const auto start = reinterpret_cast<std::uintptr_t>(base_);
  if (address < start || address - start >= buffers_bytes_ || (address - start) % stride_ != 0) {
    std::fprintf(stderr,
                 "aether: mempool '%s': freeing %p, which is not a buffer of this pool (buffers span %p + %llu "
                 "bytes, stride %zu)\n",
                 name_.c_str(), static_cast<const void*>(packet), static_cast<const void*>(base_),
                 static_cast<unsigned long long>(buffers_bytes_), stride_);
    std::abort();
  }
  if (packet->pool != this || packet->buffer_index != (address - start) / stride_) {
    die("freeing a buffer whose pool or index field was overwritten", packet);
  }
}

void Mempool::die(const char* problem, const Packet* packet) const noexcept {
  if (packet == nullptr) {
    std::fprintf(stderr, "aether: mempool '%s': %s\n", name_.c_str(), problem);
  } else {
    std::fprintf(stderr, "aether: mempool '%s': %s (buffer %llu, packet %p)\n", name_.c_str(), problem,
                 static_cast<unsigned long long>(offset_of(packet) / stride_), static_cast<const void*>(packet));
  }
  std::abort();
}

}  // namespace aether::mem
