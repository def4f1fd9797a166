// Fuzz target: Aether as a copy-mode memif client (ClientQueue<false>), the
// role where the server controls the ring contents the client reads back:
// S2C descriptors (region, offset, length, flags) and both tails.
//
// Input: a sequence of rounds. Each round: one byte of burst sizes, then up
// to 16 S2C descriptors (16 bytes each) and an S2C tail, then a C2S tail.
// The client transmits between rounds, so C2S tails meet real heads.
// Invariants: no access outside the region (an exact-size heap block, so
// ASan sees one byte past it) or the pool; every delivered packet (and
// segment) lies in the pool with its bytes inside its buffer; a chain's
// total is its first segment's packet_length and at most kMaxFrameBytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "../../src/backends/memif/client_queue.hpp"

namespace {

using namespace aether::backends::memif;
namespace mem = aether::mem;

constexpr unsigned log2_slots = 4;
constexpr std::uint32_t slots = 1u << log2_slots;
constexpr std::uint32_t buffer_bytes = 2048;
// Region 0 as the client lays it out in copy mode: C2S ring, S2C ring, the
// C2S buffers, the S2C buffers.
constexpr std::uint32_t c2s_ring_offset = 0;
constexpr std::uint32_t s2c_ring_offset = static_cast<std::uint32_t>(ring_bytes(log2_slots));
constexpr std::uint32_t tx_buffers_offset = static_cast<std::uint32_t>(2 * ring_bytes(log2_slots));
constexpr std::uint32_t rx_buffers_offset = tx_buffers_offset + slots * buffer_bytes;
constexpr std::size_t region_bytes = rx_buffers_offset + slots * buffer_bytes;

mem::Mempool& client_pool() {
  static std::unique_ptr<mem::Mempool> pool = [] {
    mem::MempoolConfig config;
    config.count = 128;
    config.headroom = 128;
    config.cache_size = 0;
    config.name = "memif-copy-fuzz";
    config.region.use_hugepages = false;
    return std::move(mem::Mempool::create(config)).value();
  }();
  return *pool;
}

// Every delivered chain lies in the pool and is as long as it says; then
// it goes back.
void check_and_free(mem::Packet** packets, unsigned count) {
  mem::Mempool& pool = client_pool();
  const std::byte* pool_begin = pool.region().base();
  const std::byte* pool_end = pool_begin + pool.region().length();
  for (unsigned i = 0; i < count; ++i) {
    std::uint64_t chain_bytes = 0;
    for (const mem::Packet* segment = packets[i]; segment != nullptr; segment = segment->next) {
      const auto* at = reinterpret_cast<const std::byte*>(segment);
      if (at < pool_begin || at + pool.buffer_stride() > pool_end) std::abort();
      if (segment->data() + segment->length() > at + pool.buffer_stride()) std::abort();
      chain_bytes += segment->length();
    }
    if (chain_bytes != packets[i]->packet_length || chain_bytes > kMaxFrameBytes) std::abort();
  }
  pool.free_bulk({packets, count});
}

template <typename T>
T take(const std::uint8_t*& data, std::size_t& size) {
  T value{};
  const std::size_t n = size < sizeof(T) ? size : sizeof(T);
  std::memcpy(&value, data, n);
  data += n;
  size -= n;
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::unique_ptr<std::byte[]> region(new std::byte[region_bytes]());
  RegionTable regions;
  regions.set(0, RegionView{region.get(), region_bytes});
  const RingView c2s(region.get() + c2s_ring_offset, log2_slots);
  const RingView s2c(region.get() + s2c_ring_offset, log2_slots);
  QueueBinding binding;
  binding.rx_ring = s2c;
  binding.tx_ring = c2s;
  binding.regions = &regions;
  binding.rx_buffers_offset = rx_buffers_offset;
  binding.tx_buffers_offset = tx_buffers_offset;
  binding.buffer_size = buffer_bytes;

  mem::Mempool& pool = client_pool();
  ClientQueue<false> client(pool, 0, 0, false);
  client.attach(binding);
  mem::Packet* burst[32];
  while (size > 0) {
    const auto sizes = take<std::uint8_t>(data, size);
    // Transmit a few frames of varied lengths (copied into C2S buffers).
    const unsigned to_send = sizes & 7;
    const unsigned allocated = pool.alloc_bulk({burst, to_send});
    for (unsigned i = 0; i < allocated; ++i) (void)burst[i]->set_length(static_cast<std::uint16_t>(14 + i * 300));
    const unsigned taken = client.tx_burst({burst, allocated});
    pool.free_bulk({burst + taken, allocated - taken});
    // The server writes S2C descriptors anywhere it likes, and a tail.
    for (std::uint16_t slot = 0; slot < slots && size >= sizeof(Descriptor); ++slot) {
      s2c.store(slot, take<Descriptor>(data, size));
    }
    s2c.store_tail(take<std::uint16_t>(data, size), std::memory_order_release);
    check_and_free(burst, client.rx_burst({burst, 1u + (sizes >> 3)}));
    c2s.store_tail(take<std::uint16_t>(data, size), std::memory_order_release);
  }
  client.detach();
  return 0;
}
