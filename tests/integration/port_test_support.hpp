// Shared pieces for port tests: a veth pair in throwaway namespaces with one
// opened port on each end, and helpers that send and collect frames.
#pragma once

#include <arpa/inet.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "aether/measure/port_on_veth.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/network_namespace.hpp"
#include "aether/net/port_registry.hpp"

namespace aether::test {

inline bool running_as_root() { return geteuid() == 0; }

// A port and the pool its rx buffers come from (the port always goes first).
using OpenedPort = measure::PortWithPool;

inline Result<OpenedPort> open_in_namespace(const net::NetworkNamespace& ns, const std::string& spec,
                                            std::uint16_t port_id) {
  return measure::open_port_in_namespace(ns, spec, port_id);
}

// Makes a spec for one end of the pair: e.g. "afpacket:{ifname}" or "udp:{ip}:9000".
using SpecForEnd = std::function<std::string(const net::VethEnd&)>;

struct PortPair {
  std::unique_ptr<net::VethPair> veth;
  OpenedPort a;
  OpenedPort b;
};

// `kernel_addresses`: see VethPairConfig (true for the udp backend only).
inline Result<PortPair> open_port_pair(const SpecForEnd& spec_for, bool kernel_addresses = true) {
  net::VethPairConfig config;
  config.kernel_addresses = kernel_addresses;
  auto veth = net::VethPair::create(config);
  if (!veth) return std::move(veth).error();
  PortPair pair;
  pair.veth = std::make_unique<net::VethPair>(std::move(*veth));
  auto a = open_in_namespace(pair.veth->namespace_a(), spec_for(pair.veth->end_a()), 0);
  if (!a) return std::move(a).error();
  pair.a = std::move(*a);
  auto b = open_in_namespace(pair.veth->namespace_b(), spec_for(pair.veth->end_b()), 1);
  if (!b) return std::move(b).error();
  pair.b = std::move(*b);
  return pair;
}

// Two memif ports of this process on the abstract socket @`name`: a server
// (a) and a client (b), `query` ("&mode=interrupt") added to both specs,
// both waited for up. A queue takes up its connection on its worker's next
// burst, and a memif client offers the server its receive buffers then:
// until the client has polled once the server has nowhere to send (memif's
// design: the receiving client owns the S2C buffers), so each polls once.
inline Result<PortPair> open_memif_pair(const std::string& name, const std::string& query = "") {
  PortPair pair;
  const std::string socket = "memif:@" + name;
  auto server = measure::open_port_and_pool(socket + "?role=server" + query, 0);
  if (!server) return std::move(server).error();
  pair.a = std::move(*server);
  auto client = measure::open_port_and_pool(socket + "?role=client" + query, 1);
  if (!client) return std::move(client).error();
  pair.b = std::move(*client);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (pair.a.port->link_state() != net::LinkState::up || pair.b.port->link_state() != net::LinkState::up) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{std::make_error_code(std::errc::timed_out), socket + ": memif ports not connected after 5 s"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::array<mem::Packet*, 1> none{};
  (void)pair.b.port->queue(0).rx_burst(none);
  (void)pair.a.port->queue(0).rx_burst(none);
  return pair;
}

inline net::UdpEndpoint endpoint_of(const net::VethEnd& end, std::uint16_t udp_port) {
  return net::UdpEndpoint{end.mac, end.ip_be, htons(udp_port)};
}

// Payload: 4-byte sequence number, then bytes derived from it.
inline void fill_payload(std::byte* payload, std::size_t size, std::uint32_t sequence) {
  if (size >= 4) std::memcpy(payload, &sequence, 4);
  for (std::size_t i = 4; i < size; ++i) payload[i] = std::byte((sequence * 31 + i) & 0xff);
}

inline bool payload_matches(std::span<const std::byte> payload, std::uint32_t& sequence) {
  if (payload.size() < 4) return false;
  std::memcpy(&sequence, payload.data(), 4);
  for (std::size_t i = 4; i < payload.size(); ++i) {
    if (payload[i] != std::byte((sequence * 31 + i) & 0xff)) return false;
  }
  return true;
}

// Builds one UDP frame in a packet from `pool`, or nullptr if the pool is empty.
inline mem::Packet* make_udp_packet(mem::Mempool& pool, const net::UdpEndpoint& from, const net::UdpEndpoint& to,
                                    std::size_t payload_size, std::uint32_t sequence) {
  mem::Packet* packet = nullptr;
  if (pool.alloc_bulk(std::span(&packet, 1)) != 1) return nullptr;
  const std::size_t room = packet->tailroom();
  const std::size_t length = net::write_udp_headers(std::span(packet->data(), room), from, to, payload_size);
  if (length == 0 || !packet->set_length(static_cast<std::uint16_t>(length))) {
    pool.free_bulk(std::span(&packet, 1));
    return nullptr;
  }
  fill_payload(packet->data() + net::udp_frame_header_size, payload_size, sequence);
  return packet;
}

// Offers every packet to tx_burst until all are taken or `timeout` passes;
// returns how many were taken and frees the rest.
inline std::size_t send_all(net::Queue& queue, mem::Mempool& pool, std::vector<mem::Packet*> packets,
                            std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  std::size_t taken = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (taken < packets.size() && std::chrono::steady_clock::now() < deadline) {
    const std::size_t burst = std::min<std::size_t>(32, packets.size() - taken);
    taken += queue.tx_burst(std::span(packets.data() + taken, burst));
  }
  if (taken < packets.size()) pool.free_bulk(std::span(packets.data() + taken, packets.size() - taken));
  return taken;
}

// Polls rx_burst until `expected` packets arrived or `timeout` passed;
// `each` sees every packet before it is freed. Also keeps polling `also`
// (the sender, whose completions may need reaping), if given.
inline std::size_t receive(net::Queue& queue, mem::Mempool& pool, std::size_t expected,
                           const std::function<void(mem::Packet&)>& each, net::Queue* also = nullptr,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  std::size_t received = 0;
  std::array<mem::Packet*, 32> burst{};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (received < expected && std::chrono::steady_clock::now() < deadline) {
    const unsigned n = queue.rx_burst(burst);
    for (unsigned i = 0; i < n; ++i) each(*burst[i]);
    pool.free_bulk(std::span(burst.data(), n));
    received += n;
    if (also != nullptr) (void)also->tx_burst(std::span<mem::Packet*>());
  }
  return received;
}

}  // namespace aether::test
