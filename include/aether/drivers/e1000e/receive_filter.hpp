// ReceiveFilter: which frames the 82574 accepts besides unicast to its MAC
// and broadcast: IPv4 multicast groups through the Multicast Table Array
// and promiscuous mode through RCTL (../shared/specs/e1000e-82574.md).
//
// MTA: 128 32-bit registers at 0x05200, 4096 bits. With RCTL.MO = 00 (the
// reset value, which Aether keeps) a multicast frame is accepted when the
// bit indexed by bits 47:36 of its destination address is set: register
// hash >> 5, bit hash & 31 (the hash Linux's e1000e uses for filter type
// 0, e1000_hash_mc_addr_generic). It is a hash: other groups that share a
// bit pass too (software filters what it must). Two joined groups may share
// a bit, so each bit counts its groups and is cleared with the last.
// Promiscuous: RCTL.UPE | RCTL.MPE (every unicast and multicast frame).
//
// Control path only (any thread, one at a time: a mutex serialises the
// read-modify-write of MTA and RCTL). The data path never touches these
// registers; the health check only reads RCTL.EN, which is left alone.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/net/frame.hpp"

namespace aether::drivers::e1000e {

class ReceiveFilter {
 public:
  static constexpr std::size_t table_registers = 128;
  static constexpr std::size_t table_bits = table_registers * 32;

  // `device_name` (the BDF) names the device in errors.
  ReceiveFilter(volatile std::byte* bar0, std::string device_name) noexcept
      : bar0_(bar0), device_name_(std::move(device_name)) {}

  // Bring-up: every MTA register to 0 (its contents are not defined after
  // reset), no group joined.
  void clear() noexcept;

  // The MTA bit of a destination MAC with RCTL.MO = 00: bits 47:36.
  [[nodiscard]] static std::uint16_t table_index(const net::MacAddress& mac) noexcept;

  // Errors: a group outside 224.0.0.0/4, or (leave) one not joined.
  [[nodiscard]] Result<void> join(std::uint32_t group_be);
  [[nodiscard]] Result<void> leave(std::uint32_t group_be);
  void set_promiscuous(bool enabled) noexcept;

 private:
  volatile std::byte* bar0_;
  std::string device_name_;
  std::mutex mutex_;
  std::vector<std::uint32_t> groups_;                // joined, network byte order
  std::array<std::uint16_t, table_bits> users_{};    // joined groups per MTA bit
};

}  // namespace aether::drivers::e1000e
