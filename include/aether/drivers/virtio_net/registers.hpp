// virtio 1.x PCI register and bit definitions used by the virtio-net
// driver. Sources: virtio 1.2 cs01, sections 2.1 (device status), 4.1.4.3
// (common configuration), 5.1.3-5.1.4 (net feature bits and device
// configuration), 6 (reserved feature bits). All little-endian.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aether::drivers::virtio_net {

// struct virtio_pci_common_cfg offsets (4.1.4.3).
namespace common_cfg {
inline constexpr std::size_t device_feature_select = 0;  // le32
inline constexpr std::size_t device_feature = 4;         // le32, read-only
inline constexpr std::size_t driver_feature_select = 8;  // le32
inline constexpr std::size_t driver_feature = 12;        // le32
inline constexpr std::size_t config_msix_vector = 16;    // le16
inline constexpr std::size_t num_queues = 18;            // le16, read-only
inline constexpr std::size_t device_status = 20;         // u8
inline constexpr std::size_t config_generation = 21;     // u8, read-only
inline constexpr std::size_t queue_select = 22;          // le16
inline constexpr std::size_t queue_size = 24;            // le16
inline constexpr std::size_t queue_msix_vector = 26;     // le16
inline constexpr std::size_t queue_enable = 28;          // le16
inline constexpr std::size_t queue_notify_off = 30;      // le16, read-only
inline constexpr std::size_t queue_desc = 32;            // le64
inline constexpr std::size_t queue_driver = 40;          // le64 (avail ring)
inline constexpr std::size_t queue_device = 48;          // le64 (used ring)
inline constexpr std::size_t size_v1_0 = 56;             // what every 1.x device has
inline constexpr std::uint16_t no_vector = 0xffff;       // VIRTIO_MSI_NO_VECTOR
}  // namespace common_cfg

// Device status bits (2.1).
namespace device_status {
inline constexpr std::uint8_t reset = 0;
inline constexpr std::uint8_t acknowledge = 1;
inline constexpr std::uint8_t driver = 2;
inline constexpr std::uint8_t driver_ok = 4;
inline constexpr std::uint8_t features_ok = 8;
inline constexpr std::uint8_t device_needs_reset = 64;
inline constexpr std::uint8_t failed = 128;
}  // namespace device_status

// Feature bit numbers (5.1.3 for net, 6 for reserved/transport bits).
namespace feature {
inline constexpr unsigned net_csum = 0;
inline constexpr unsigned net_guest_csum = 1;
inline constexpr unsigned net_mtu = 3;
inline constexpr unsigned net_mac = 5;
inline constexpr unsigned net_mrg_rxbuf = 15;
inline constexpr unsigned net_status = 16;
inline constexpr unsigned net_ctrl_vq = 17;
inline constexpr unsigned net_ctrl_rx = 18;  // RX mode and MAC table commands (5.1.6.5.1-2)
inline constexpr unsigned net_mq = 22;
inline constexpr unsigned indirect_desc = 28;
inline constexpr unsigned event_idx = 29;
inline constexpr unsigned version_1 = 32;
inline constexpr unsigned access_platform = 33;
inline constexpr unsigned ring_packed = 34;
inline constexpr unsigned in_order = 35;
inline constexpr unsigned notification_data = 38;
[[nodiscard]] constexpr std::uint64_t bit(unsigned number) noexcept { return std::uint64_t{1} << number; }
}  // namespace feature

// struct virtio_net_config (5.1.4), the start of the device-specific
// configuration structure. Fields past `mac` exist only with their
// feature (status: NET_F_STATUS, max_virtqueue_pairs: NET_F_MQ, mtu:
// NET_F_MTU).
struct VirtioNetConfig {
  std::uint8_t mac[6];
  std::uint16_t status;  // bit 0: VIRTIO_NET_S_LINK_UP, bit 1: ANNOUNCE
  std::uint16_t max_virtqueue_pairs;
  std::uint16_t mtu;
};
static_assert(sizeof(VirtioNetConfig) == 12);
static_assert(offsetof(VirtioNetConfig, status) == 6);
static_assert(offsetof(VirtioNetConfig, max_virtqueue_pairs) == 8);
static_assert(offsetof(VirtioNetConfig, mtu) == 10);
inline constexpr std::uint16_t net_status_link_up = 1;

// struct virtio_net_hdr (5.1.6): in front of every frame in both
// directions. 12 bytes with VERSION_1 (num_buffers is always there; 10 was
// the legacy size without MRG_RXBUF). With no offloads negotiated the
// driver sends it zeroed and ignores it on receive.
struct VirtioNetHeader {
  std::uint8_t flags;  // NEEDS_CSUM 1, DATA_VALID 2, RSC_INFO 4
  std::uint8_t gso_type;
  std::uint16_t header_length;
  std::uint16_t gso_size;
  std::uint16_t csum_start;
  std::uint16_t csum_offset;
  std::uint16_t num_buffers;  // 0 on transmit; 1 on receive without MRG_RXBUF
};
static_assert(sizeof(VirtioNetHeader) == 12);
static_assert(offsetof(VirtioNetHeader, num_buffers) == 10);

}  // namespace aether::drivers::virtio_net
