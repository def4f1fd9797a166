// Extras for the udp and afpacket port tests, on top of port_test_support.hpp:
// exact frame sizes, a one-frame receive that keeps the packet, and a
// one-thread ping-pong whose figures are printed (never asserted).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <vector>

#include "port_test_support.hpp"

namespace aether::test::kernel_ports {

// Ethernet frame sizes (without FCS) from the minimum to a full 1500-mtu frame.
inline const std::vector<std::size_t>& frame_sizes() {
  static const std::vector<std::size_t> sizes = {60,  61,   64,   100,  127,  128,  256, 511,
                                                 512, 1000, 1024, 1499, 1500, 1513, 1514};
  return sizes;
}

// Opens a fresh pair of ports into `pair`. The old ports close first:
// assigning an OpenedPort would replace its pool before its port.
inline Result<void> reopen_port_pair(PortPair& pair, const SpecForEnd& spec_for) {
  pair.a.port.reset();
  pair.b.port.reset();
  auto fresh = open_port_pair(spec_for);
  if (!fresh) return std::move(fresh).error();
  pair = std::move(*fresh);
  return {};
}

// The next received packet (the caller frees it), or nullptr after `patience`
// without one. The deadline only keeps a broken port from hanging the test.
inline mem::Packet* receive_one(net::Queue& queue,
                                std::chrono::milliseconds patience = std::chrono::milliseconds(2000)) {
  mem::Packet* packet = nullptr;
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (queue.rx_burst({&packet, 1}) == 1) return packet;
  }
  return nullptr;
}

inline void free_one(mem::Packet* packet) { packet->pool->free_bulk({&packet, 1}); }

// Offers `frames` in one burst: the port must take them all, count `bad` of
// them tx_drop_bad_frame and send the rest, and `receiver` must get the one
// good frame, `good_length` bytes long.
inline void expect_bad_frames_taken(net::Port& sender, net::Queue& receiver, std::vector<mem::Packet*> frames,
                                    std::uint64_t bad, std::size_t good_length) {
  const std::size_t offered = frames.size();
  EXPECT_EQ(sender.queue(0).tx_burst(frames), offered);
  const net::QueueStats stats = sender.stats();
  EXPECT_EQ(stats.tx_drop_bad_frame, bad);
  EXPECT_EQ(stats.tx_packets, offered - bad);
  mem::Packet* received = receive_one(receiver);
  ASSERT_NE(received, nullptr);
  EXPECT_EQ(received->length(), good_length);
  free_one(received);
}

// One thread drives both ends: `client` sends what `make_request` writes,
// `server` receives it, `make_reply` turns it around in place, `server`
// sends it back, `client` receives it. Lost round trips are counted, not timed.
struct PingPong {
  std::vector<double> microseconds;
  unsigned lost = 0;

  [[nodiscard]] double percentile(double fraction) {
    if (microseconds.empty()) return 0;
    std::sort(microseconds.begin(), microseconds.end());
    return microseconds[static_cast<std::size_t>(fraction * static_cast<double>(microseconds.size() - 1))];
  }
  void print(const char* what) {
    std::printf("%s: %zu round trips, %u lost: p50 %.1f us, p99 %.1f us, max %.1f us\n", what, microseconds.size(),
                lost, percentile(0.5), percentile(0.99), percentile(1.0));
  }
};

template <class MakeRequest, class MakeReply>
PingPong ping_pong(net::Queue& client, mem::Mempool& client_pool, net::Queue& server, unsigned rounds,
                   MakeRequest make_request, MakeReply make_reply) {
  PingPong result;
  const auto patience = std::chrono::milliseconds(500);
  for (unsigned round = 0; round < rounds; ++round) {
    mem::Packet* request = nullptr;
    if (client_pool.alloc_bulk({&request, 1}) != 1) break;
    make_request(*request);
    const auto start = std::chrono::steady_clock::now();
    mem::Packet* served = nullptr;
    mem::Packet* answer = nullptr;
    if (send_all(client, client_pool, {request}) == 1 && (served = receive_one(server, patience)) != nullptr) {
      make_reply(*served);
      if (send_all(server, *served->pool, {served}) == 1) answer = receive_one(client, patience);
    }
    const auto end = std::chrono::steady_clock::now();
    if (answer == nullptr) {
      ++result.lost;
      continue;
    }
    free_one(answer);
    result.microseconds.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  return result;
}

}  // namespace aether::test::kernel_ports
