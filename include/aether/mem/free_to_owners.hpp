// free_to_owners: freeing what a port's transmit path took when the packets
// may come from several pools (a forwarder hands over frames another port
// received). With one pool shared by the ports (runtime [[pool]], `aether
// fwd` by default) every packet goes through the sending queue's cache; with
// a pool per port each one costs a ring operation on its own pool.
#pragma once

#include <cstddef>
#include <span>

#include "aether/mem/mempool.hpp"
#include "aether/mem/mempool_cache.hpp"
#include "aether/mem/packet.hpp"

namespace aether::mem {

// Frees what a port's transmit path took, when the packets may belong to
// several pools (a forwarder hands over frames another port received):
// runs of the cache's pool go through the cache, one call per run; a packet
// of any other pool goes straight to its own pool's shared ring, one ring
// operation (a CAS) each, since this thread holds no cache of that pool.
// That is the price of ports not sharing a pool (docs/runtime.md, "Pools").
// nullptr entries are skipped. Returns how many packets were of another pool.
inline unsigned free_to_owners(std::span<Packet* const> packets, MempoolCache& cache) noexcept {
  Mempool* const own = cache.pool();
  unsigned foreign = 0;
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    Packet* const packet = packets[i];
    if (packet == nullptr || packet->pool == own) continue;
    own->free_bulk(packets.subspan(run_start, i - run_start), &cache);
    packet->pool->free_bulk(packets.subspan(i, 1));
    ++foreign;
    run_start = i + 1;
  }
  own->free_bulk(packets.subspan(run_start), &cache);
  return foreign;
}

}  // namespace aether::mem
