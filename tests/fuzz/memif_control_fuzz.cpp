// Fuzz target: what a hostile memif peer controls.
//
// Input byte 0 picks the surface:
//  even: control messages. The rest is a sequence of 129-byte records
//        (a flags byte: bit 0 "carries an fd", then a 128-byte datagram,
//        zero-padded when short), fed to decode_message() and, when it
//        decodes, to a server and a client handshake. Invariants: no crash
//        or sanitizer report; a decoded message re-encodes to one that
//        decodes to the same type; a refused handshake stays refused.
//  odd:  the data path. The rest overwrites the descriptors and indices of
//        a C2S and an S2C ring in a heap "region" (ASan knows its exact
//        end), then a server queue and a zero-copy client queue run bursts
//        over them. Invariants: no access outside the region or the pool,
//        every packet handed out lies inside the pool, lengths within
//        kMaxFrameBytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "../../src/backends/memif/client_queue.hpp"
#include "../../src/backends/memif/handshake.hpp"
#include "../../src/backends/memif/messages.hpp"
#include "../../src/backends/memif/server_queue.hpp"

namespace {

using namespace aether::backends::memif;
namespace mem = aether::mem;

constexpr std::size_t kRecord = 1 + kMessageSize;

void fuzz_control(const std::uint8_t* data, std::size_t size) {
  ServerSettings server_settings;
  server_settings.queues = 4;
  server_settings.max_log2_ring_size = 12;
  server_settings.secret = secret_field("fuzz");
  ServerHandshake server(server_settings);
  ClientSettings client_settings;
  client_settings.queues = 2;
  client_settings.regions = 2;
  ClientHandshake client(client_settings);
  bool server_failed = false;
  bool client_failed = false;
  bool client_may_send = false;
  for (std::size_t at = 0; at < size; at += kRecord) {
    WireMessage bytes{};
    const std::size_t n = std::min(kRecord, size - at);
    const bool has_fd = (data[at] & 1) != 0;
    if (n > 1) std::memcpy(bytes.data(), data + at + 1, n - 1);
    auto message = decode_message(bytes);
    if (!message) {
      if (message.error().message.size() >= kDisconnectStringSize) std::abort();  // must fit DISCONNECT
      continue;
    }
    auto again = decode_message(encode_message(*message));
    if (!again || type_of(*again) != type_of(*message)) std::abort();

    auto server_action = server.on_message(*message, has_fd);
    if (server_failed && server_action && *server_action != ServerHandshake::Action::peer_disconnected) std::abort();
    if (!server_action) server_failed = true;
    if (server_action && *server_action == ServerHandshake::Action::map_and_connect) {
      // Whatever was accepted lies inside the regions it names.
      for (const auto& ring : server.rings()) {
        if (ring.region >= server.region_sizes().size()) std::abort();
        if (ring.offset + ring_bytes(ring.log2_ring_size) > server.region_sizes()[ring.region]) std::abort();
      }
      server.mark_connected();
    }

    auto client_action = client.on_message(*message, has_fd);
    if (client_failed && client_action && *client_action != ClientHandshake::Action::peer_disconnected) std::abort();
    if (!client_action) {
      client_failed = true;
      continue;
    }
    if (*client_action == ClientHandshake::Action::prepare_resources) {
      const Negotiated& negotiated = client.negotiated();
      if (negotiated.c2s_rings == 0 || negotiated.c2s_rings > 2 || negotiated.log2_ring_size > 10) std::abort();
      (void)client.start({AddRegionMessage{0, 4096}, AddRegionMessage{1, 8192}},
                         {AddRingMessage{RingType::client_to_server, 0, 0, 0, 10}});
      client_may_send = true;
    } else if (*client_action == ClientHandshake::Action::send_next) {
      if (!client_may_send) std::abort();
      (void)client.next_outgoing();
    }
  }
}

constexpr unsigned kLog2 = 4;
constexpr std::uint32_t kRingSize = 1u << kLog2;
constexpr std::size_t kRegionSize = 2 * ring_bytes(kLog2) + 4096;

mem::Mempool& pool() {
  static std::unique_ptr<mem::Mempool> instance = [] {
    mem::MempoolConfig config;
    config.count = 256;
    config.headroom = 256;
    config.stride_power_of_two = true;
    config.cache_size = 0;
    config.name = "memif-fuzz";
    config.region.use_hugepages = false;
    return std::move(mem::Mempool::create(config)).value();
  }();
  return *instance;
}

void check_delivered(std::span<mem::Packet*> packets) {
  const auto* begin = pool().region().base();
  const auto* end = begin + pool().region().length();
  for (const mem::Packet* first : packets) {
    std::uint64_t total = 0;
    for (const mem::Packet* s = first; s != nullptr; s = s->next) {
      const auto* p = reinterpret_cast<const std::byte*>(s);
      if (p < begin || p >= end) std::abort();
      if (s->data() + s->length() > p + pool().buffer_stride()) std::abort();
      total += s->length();
    }
    if (total != first->packet_length || total > kMaxFrameBytes) std::abort();
  }
  pool().free_bulk(packets);
}

// Writes fuzzer bytes over a ring's descriptors, then returns the index the
// "peer" publishes.
std::uint16_t scribble(const RingView& ring, const std::uint8_t*& data, std::size_t& size) {
  for (std::uint16_t i = 0; i < kRingSize && size >= sizeof(Descriptor); ++i) {
    Descriptor d;
    std::memcpy(&d, data, sizeof(d));
    ring.store(i, d);
    data += sizeof(d);
    size -= sizeof(d);
  }
  std::uint16_t index = 0;
  if (size >= 2) {
    std::memcpy(&index, data, 2);
    data += 2;
    size -= 2;
  }
  return index;
}

void fuzz_data_path(const std::uint8_t* data, std::size_t size) {
  std::unique_ptr<std::byte[]> region(new std::byte[kRegionSize]());
  // The server sees only the peer's region; the zero-copy client also its
  // own pool as region 1 (a server never maps the memory it copies into).
  RegionTable server_table;
  server_table.set(0, RegionView{region.get(), kRegionSize});
  RegionTable client_table = server_table;
  client_table.set(1, RegionView{pool().region().base(), pool().region().length()});
  QueueBinding binding;
  binding.regions = &server_table;
  const RingView c2s(region.get(), kLog2);
  const RingView s2c(region.get() + ring_bytes(kLog2), kLog2);
  mem::Packet* out[32];

  {  // Aether serves: the peer writes C2S descriptors + head, and offers S2C buffers.
    binding.rx_ring = c2s;
    binding.tx_ring = s2c;
    ServerQueue server(pool(), 0, 0, false);
    server.attach(binding);
    c2s.store_head(scribble(c2s, data, size), std::memory_order_release);
    check_delivered({out, server.rx_burst(out)});
    s2c.store_head(scribble(s2c, data, size), std::memory_order_release);
    mem::Packet* frames[4];
    const unsigned allocated = pool().alloc_bulk(frames);
    for (unsigned i = 0; i < allocated; ++i) (void)frames[i]->set_length(static_cast<std::uint16_t>(60 + i * 700));
    const unsigned taken = server.tx_burst({frames, allocated});
    pool().free_bulk({frames + taken, allocated - taken});
    server.detach();
  }
  {  // Aether is a zero-copy client: the peer writes S2C lengths/flags + tail, C2S tail.
    binding.rx_ring = s2c;
    binding.tx_ring = c2s;
    binding.pool_region = 1;
    binding.regions = &client_table;
    c2s.store_head(0, std::memory_order_relaxed);
    c2s.store_tail(0, std::memory_order_relaxed);
    s2c.store_head(0, std::memory_order_relaxed);
    s2c.store_tail(0, std::memory_order_relaxed);
    ClientQueue<true> client(pool(), 0, 0, false);
    client.attach(binding);
    mem::Packet* frames[4];
    const unsigned allocated = pool().alloc_bulk(frames);
    for (unsigned i = 0; i < allocated; ++i) (void)frames[i]->set_length(100);
    const unsigned taken = client.tx_burst({frames, allocated});
    pool().free_bulk({frames + taken, allocated - taken});
    // The peer rewrites lengths and flags only where the client lent buffers
    // (offsets are ignored by the client anyway), and publishes a tail.
    const std::uint16_t tail = scribble(s2c, data, size);
    s2c.store_tail(tail, std::memory_order_release);
    check_delivered({out, client.rx_burst(out)});
    c2s.store_tail(scribble(c2s, data, size), std::memory_order_release);
    (void)client.tx_burst({});
    client.detach();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1) == 0) {
    fuzz_control(data + 1, size - 1);
  } else {
    fuzz_data_path(data + 1, size - 1);
  }
  return 0;
}
