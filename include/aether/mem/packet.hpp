// Packet: the 64-byte metadata at the start of every packet buffer.
//
// Buffer layout (one buffer = one stride of the Mempool's region):
//
//   | Packet (64 B) | headroom ........ | data ............ | tailroom ... |
//   ^ buffer        ^ buffer_start()    ^ data()            ^ data() + length()
//                   |<------------------ buffer_length ----------------->|
//
// The metadata is exactly one cache line (like DPDK's first rte_mbuf line),
// so that the rx path touches one line per packet before the payload.
// Headroom lets a tunnel or VLAN header be prepended without a copy.
//
// All fields are public, as in DPDK's rte_mbuf, so that drivers can fill
// them in one go; the accessors below keep the length fields consistent and
// are what application code should use.
//
// Chains: `next` links the segments of one packet. packet_length is the sum
// of data_length over the chain and is meaningful on the first segment; the
// length helpers adjust this segment's data_length and packet_length by the
// same amount, which is right for single-segment packets and for the first
// segment of a chain.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aether::mem {

class Mempool;

// Values of Packet::debug_state. Checked only in debug builds (NDEBUG not
// defined) to catch double frees; distinct non-zero patterns so that a
// stray zeroing or an overwrite is also recognised as corruption.
inline constexpr std::uint32_t kPacketStateFree = 0xF7EEF7EEu;
inline constexpr std::uint32_t kPacketStateAllocated = 0xA110CA7Eu;

struct alignas(64) Packet {
  Packet* next;                 // next segment of this packet, nullptr if last
  Mempool* pool;                // owning pool; rewritten at every allocation
  std::uint64_t timestamp;      // receive time (TSC or ns, as the driver documents); 0 if none
  std::uint64_t user_data;      // free for the application (flow id, AF_XDP address, ...)
  std::uint32_t buffer_index;   // index in the pool; rewritten at every allocation
  std::uint32_t packet_length;  // total bytes over the chain (first segment)
  std::uint32_t flags;          // offload and driver flags; 0 after allocation
  std::uint32_t debug_state;    // kPacketStateFree / kPacketStateAllocated (debug builds)
  std::uint16_t data_offset;    // data() - buffer_start(); the current headroom
  std::uint16_t data_length;    // bytes of data in this segment
  std::uint16_t buffer_length;  // bytes after the metadata: headroom + data room; rewritten at every allocation
  std::uint16_t port;           // receiving or sending port id
  std::uint16_t queue;          // receiving or sending queue id
  std::uint16_t reserved[3];    // padding to 64 bytes; zero

  // First byte after the metadata: where the headroom starts.
  [[nodiscard]] std::byte* buffer_start() noexcept { return reinterpret_cast<std::byte*>(this) + sizeof(Packet); }
  [[nodiscard]] const std::byte* buffer_start() const noexcept {
    return reinterpret_cast<const std::byte*>(this) + sizeof(Packet);
  }

  // First byte of packet data in this segment.
  [[nodiscard]] std::byte* data() noexcept { return buffer_start() + data_offset; }
  [[nodiscard]] const std::byte* data() const noexcept { return buffer_start() + data_offset; }

  // Bytes of data in this segment.
  [[nodiscard]] std::uint16_t length() const noexcept { return data_length; }

  // Free bytes before data() and after data() + length().
  [[nodiscard]] std::uint16_t headroom() const noexcept { return data_offset; }
  [[nodiscard]] std::uint16_t tailroom() const noexcept {
    return static_cast<std::uint16_t>(buffer_length - data_offset - data_length);
  }

  // Sets this segment's data length (e.g. after a driver wrote a frame at
  // data()). Returns false, changing nothing, if it does not fit.
  [[nodiscard]] bool set_length(std::uint16_t length) noexcept {
    if (length > buffer_length - data_offset) return false;
    packet_length = packet_length - data_length + length;
    data_length = length;
    return true;
  }

  // Grows the data by `bytes` at the front and returns the new data(), or
  // nullptr (changing nothing) if the headroom is too small.
  [[nodiscard]] std::byte* prepend(std::uint16_t bytes) noexcept {
    if (bytes > data_offset) return nullptr;
    data_offset = static_cast<std::uint16_t>(data_offset - bytes);
    data_length = static_cast<std::uint16_t>(data_length + bytes);
    packet_length += bytes;
    return data();
  }

  // Grows the data by `bytes` at the end and returns a pointer to the added
  // bytes, or nullptr (changing nothing) if the tailroom is too small.
  [[nodiscard]] std::byte* append(std::uint16_t bytes) noexcept {
    if (bytes > tailroom()) return nullptr;
    std::byte* added = data() + data_length;
    data_length = static_cast<std::uint16_t>(data_length + bytes);
    packet_length += bytes;
    return added;
  }

  // Removes `bytes` from the front (e.g. a decapsulated header) and returns
  // the new data(), or nullptr (changing nothing) if there is less data.
  [[nodiscard]] std::byte* trim_front(std::uint16_t bytes) noexcept {
    if (bytes > data_length) return nullptr;
    data_offset = static_cast<std::uint16_t>(data_offset + bytes);
    data_length = static_cast<std::uint16_t>(data_length - bytes);
    packet_length -= bytes;
    return data();
  }

  // Removes `bytes` from the end (e.g. a trailer or FCS). Returns false,
  // changing nothing, if there is less data.
  [[nodiscard]] bool trim_back(std::uint16_t bytes) noexcept {
    if (bytes > data_length) return false;
    data_length = static_cast<std::uint16_t>(data_length - bytes);
    packet_length -= bytes;
    return true;
  }

  // Restores the just-allocated state: empty data at `headroom`, no chain,
  // no flags. Leaves pool, buffer_index, buffer_length and debug_state.
  void reset(std::uint16_t headroom) noexcept {
    next = nullptr;
    timestamp = 0;
    user_data = 0;
    packet_length = 0;
    flags = 0;
    data_offset = headroom;
    data_length = 0;
    port = 0;
    queue = 0;
  }
};

// The layout is part of the contract: drivers and the memif/AF_XDP offsets
// rely on the metadata being one cache line with data right after it.
static_assert(sizeof(Packet) == 64, "Packet metadata must be exactly one 64-byte cache line");
static_assert(alignof(Packet) == 64, "Packet metadata must start a cache line");
static_assert(offsetof(Packet, next) == 0);
static_assert(offsetof(Packet, pool) == 8);
static_assert(offsetof(Packet, timestamp) == 16);
static_assert(offsetof(Packet, user_data) == 24);
static_assert(offsetof(Packet, buffer_index) == 32);
static_assert(offsetof(Packet, packet_length) == 36);
static_assert(offsetof(Packet, flags) == 40);
static_assert(offsetof(Packet, debug_state) == 44);
static_assert(offsetof(Packet, data_offset) == 48);
static_assert(offsetof(Packet, data_length) == 50);
static_assert(offsetof(Packet, buffer_length) == 52);
static_assert(offsetof(Packet, port) == 54);
static_assert(offsetof(Packet, queue) == 56);

}  // namespace aether::mem
