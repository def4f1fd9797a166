// memif protocol version 2.0: everything that crosses the process boundary,
// with its exact layout.
//
// Sources (facts only; layouts re-derived and checked by the static_asserts
// below): DPDK drivers/net/memif/memif.h and memif_socket.c (v22.11),
// doc/guides/nics/memif.rst "Connection establishment", "Shared memory
// format", "Descriptor format"; FD.io VPP extras/libmemif/src/memif.h.
//
// Naming: DPDK and libmemif call the two roles master/slave in older
// sources and server/client in newer ones (client = slave connects and
// allocates all shared memory; server = master listens). Ring directions
// are named after them: C2S (client to server, formerly S2M) and S2C.
//
// Every multi-byte field is little-endian on the wire: memif is a
// same-host protocol and the structs are sent as they lie in memory
// (x86-64 and arm64 are little-endian; this file asserts it).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace aether::backends::memif {

static_assert(std::endian::native == std::endian::little, "memif messages are host-order structs; see wire.hpp");

// memif.h: MEMIF_COOKIE, MEMIF_VERSION_MAJOR/MINOR, MEMIF_NAME_SZ.
inline constexpr std::uint32_t kRingCookie = 0x3E31F20;
inline constexpr std::uint16_t kVersion = (2u << 8) | 0u;  // 2.0
inline constexpr std::size_t kNameSize = 32;
inline constexpr std::size_t kSecretSize = 24;            // memif_msg_init_t::secret
inline constexpr std::size_t kDisconnectStringSize = 96;  // memif_msg_disconnect_t::string
inline constexpr std::size_t kMessageSize = 128;          // memif_msg_t is __rte_aligned(128)
inline constexpr std::size_t kMessageBodyOffset = 2;      // the union follows `type:16`

// memif_msg_type_t, in enum order.
enum class MessageType : std::uint16_t {
  none = 0,
  ack = 1,
  hello = 2,
  init = 3,
  add_region = 4,
  add_ring = 5,
  connect = 6,
  connected = 7,
  disconnect = 8,
};

// memif_ring_type_t: MEMIF_RING_C2S (= S2M) = 0, MEMIF_RING_S2C (= M2S) = 1.
enum class RingType : std::uint8_t { client_to_server = 0, server_to_client = 1 };

// memif_interface_mode_t. DPDK accepts only ETHERNET ("Only ethernet mode
// supported", memif_socket.c), and so does Aether.
inline constexpr std::uint8_t kModeEthernet = 0;

// MEMIF_MSG_ADD_RING_FLAG_C2S (= _S2M): the ring carries client-to-server traffic.
inline constexpr std::uint16_t kAddRingFlagClientToServer = 1;
// MEMIF_DESC_FLAG_NEXT: the packet continues in the next descriptor.
inline constexpr std::uint16_t kDescriptorFlagNext = 1;
// MEMIF_RING_FLAG_MASK_INT: set by a ring's receiver when it polls; the
// sender then must not write the ring's eventfd.
inline constexpr std::uint16_t kRingFlagMaskInterrupt = 1;

// The protocol's own limits: region and ring indices are u16 but the
// HELLO of DPDK advertises at most 255 rings (ETH_MEMIF_MAX_NUM_Q_PAIRS)
// and 256 regions; ring sizes go up to 2^14 (ETH_MEMIF_MAX_LOG2_RING_SIZE,
// VPP's MEMIF_MAX_LOG2_RING_SIZE).
inline constexpr unsigned kMaxLog2RingSize = 14;
inline constexpr unsigned kMaxQueues = 255;
inline constexpr unsigned kMaxRegions = 256;

// ---- Control messages: one 128-byte SOCK_SEQPACKET datagram each. -------
// The body structs are packed exactly as in memif.h; a message is the
// 2-byte type followed by one body, zero-padded to 128 bytes.

struct [[gnu::packed]] HelloBody {  // server -> client
  std::uint8_t name[kNameSize];
  std::uint16_t min_version;
  std::uint16_t max_version;
  std::uint16_t max_region;          // the largest region INDEX accepted (count - 1)
  std::uint16_t max_s2c_ring;        // the largest ring INDEX accepted; libmemif: max_m2s_ring
  std::uint16_t max_c2s_ring;        // libmemif: max_s2m_ring
  std::uint8_t max_log2_ring_size;
};
static_assert(sizeof(HelloBody) == 43);
static_assert(offsetof(HelloBody, min_version) == 32);
static_assert(offsetof(HelloBody, max_version) == 34);
static_assert(offsetof(HelloBody, max_region) == 36);
static_assert(offsetof(HelloBody, max_s2c_ring) == 38);
static_assert(offsetof(HelloBody, max_c2s_ring) == 40);
static_assert(offsetof(HelloBody, max_log2_ring_size) == 42);

struct [[gnu::packed]] InitBody {  // client -> server
  std::uint16_t version;
  std::uint32_t id;
  std::uint8_t mode;  // memif_interface_mode_t mode:8
  std::uint8_t secret[kSecretSize];
  std::uint8_t name[kNameSize];
};
static_assert(sizeof(InitBody) == 63);
static_assert(offsetof(InitBody, id) == 2);
static_assert(offsetof(InitBody, mode) == 6);
static_assert(offsetof(InitBody, secret) == 7);
static_assert(offsetof(InitBody, name) == 31);

struct [[gnu::packed]] AddRegionBody {  // client -> server, with the region's fd
  std::uint16_t index;
  std::uint64_t size;
};
static_assert(sizeof(AddRegionBody) == 10);
static_assert(offsetof(AddRegionBody, size) == 2);

struct [[gnu::packed]] AddRingBody {  // client -> server, with the ring's eventfd
  std::uint16_t flags;
  std::uint16_t index;
  std::uint16_t region;
  std::uint32_t offset;  // of the ring header in the region
  std::uint8_t log2_ring_size;
  std::uint16_t private_hdr_size;
};
static_assert(sizeof(AddRingBody) == 13);
static_assert(offsetof(AddRingBody, index) == 2);
static_assert(offsetof(AddRingBody, region) == 4);
static_assert(offsetof(AddRingBody, offset) == 6);
static_assert(offsetof(AddRingBody, log2_ring_size) == 10);
static_assert(offsetof(AddRingBody, private_hdr_size) == 11);

struct [[gnu::packed]] ConnectBody {  // CONNECT (client -> server) and CONNECTED (server -> client)
  std::uint8_t if_name[kNameSize];
};
static_assert(sizeof(ConnectBody) == 32);

struct [[gnu::packed]] DisconnectBody {  // either way, at any time
  std::uint32_t code;
  std::uint8_t string[kDisconnectStringSize];
};
static_assert(sizeof(DisconnectBody) == 100);
static_assert(offsetof(DisconnectBody, string) == 4);

static_assert(kMessageBodyOffset + sizeof(DisconnectBody) <= kMessageSize);
static_assert(kMessageBodyOffset + sizeof(InitBody) <= kMessageSize);

// ---- Shared memory. ----------------------------------------------------

// memif_desc_t: one buffer. The buffer is `length` bytes at
// regions[region] + offset (memif.rst "Descriptor format": QW0 = flags,
// region, length; QW1 = offset, metadata).
struct Descriptor {
  std::uint16_t flags;
  std::uint16_t region;
  std::uint32_t length;
  std::uint32_t offset;
  std::uint32_t metadata;
};
static_assert(sizeof(Descriptor) == 16);
static_assert(offsetof(Descriptor, region) == 2);
static_assert(offsetof(Descriptor, length) == 4);
static_assert(offsetof(Descriptor, offset) == 8);
static_assert(offsetof(Descriptor, metadata) == 12);

// memif_ring_t: cookie, flags and head on the first cache line, tail on the
// second, descriptors from the third. The cache line is 64 bytes on
// x86-64 (DPDK's RTE_CACHE_LINE_SIZE there; libmemif/VPP hard-code 64).
// Some arm64 DPDK builds use 128-byte lines and so a different layout:
// Aether speaks the 64-byte one.
inline constexpr std::size_t kRingCacheLine = 64;
struct RingHeader {
  std::uint32_t cookie;  // kRingCookie, written by the client
  std::uint16_t flags;   // kRingFlagMaskInterrupt, written by the ring's receiver
  std::uint16_t head;    // advanced by the producer of descriptors (see ring.hpp)
  std::byte pad0[kRingCacheLine - 8];
  std::uint16_t tail;    // advanced by the consumer
  std::byte pad1[kRingCacheLine - 2];
};
static_assert(sizeof(RingHeader) == 2 * kRingCacheLine);
static_assert(offsetof(RingHeader, flags) == 4);
static_assert(offsetof(RingHeader, head) == 6);
static_assert(offsetof(RingHeader, tail) == kRingCacheLine);

// Bytes of one ring with 2^log2 descriptors.
[[nodiscard]] constexpr std::uint64_t ring_bytes(unsigned log2_ring_size) noexcept {
  return sizeof(RingHeader) + sizeof(Descriptor) * (std::uint64_t{1} << log2_ring_size);
}
static_assert(ring_bytes(10) == 128 + 16 * 1024);

}  // namespace aether::backends::memif
