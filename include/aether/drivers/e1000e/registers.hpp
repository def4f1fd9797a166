// Intel 82574 (e1000e) register offsets and bits used so far. Source:
// ../shared/specs/e1000e-82574.md (Linux e1000e regs.h/defines.h; 82574L
// datasheet). BAR 0, 32-bit accesses.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aether::drivers::e1000e {

namespace reg {
inline constexpr std::size_t ctrl = 0x00000;
inline constexpr std::size_t status = 0x00008;
inline constexpr std::size_t icr = 0x000c0;  // read clears
inline constexpr std::size_t ims = 0x000d0;  // set bits: unmask interrupt causes
inline constexpr std::size_t imc = 0x000d8;  // write-only: mask interrupts
inline constexpr std::size_t interrupt_auto_clear = 0x000dc;  // EIAC (82574): ICR bits cleared on their MSI-X message
inline constexpr std::size_t interrupt_vector_allocation = 0x000e4;  // IVAR: cause -> MSI-X vector
inline constexpr std::size_t rctl = 0x00100;
inline constexpr std::size_t tctl = 0x00400;
inline constexpr std::size_t tipg = 0x00410;
inline constexpr std::size_t rdbal = 0x02800;  // queue 0
inline constexpr std::size_t rdbah = 0x02804;
inline constexpr std::size_t rdlen = 0x02808;
inline constexpr std::size_t rdh = 0x02810;
inline constexpr std::size_t rdt = 0x02818;
inline constexpr std::size_t tdbal = 0x03800;
inline constexpr std::size_t tdbah = 0x03804;
inline constexpr std::size_t tdlen = 0x03808;
inline constexpr std::size_t tdh = 0x03810;
inline constexpr std::size_t tdt = 0x03818;
inline constexpr std::size_t missed_packets = 0x04010;  // MPC, statistics: read clears
inline constexpr std::size_t receive_filter_control = 0x05008;  // RFCTL
inline constexpr std::size_t multicast_table = 0x05200;  // MTA[128]
inline constexpr std::size_t receive_address_low = 0x05400;   // RAL(0)
inline constexpr std::size_t receive_address_high = 0x05404;  // RAH(0)
}  // namespace reg

// Bytes of BAR 0 the driver touches: up to the end of RAH(0), the highest
// register above. The 82574's BAR 0 is 128 KiB (QEMU hw/net/e1000e.c;
// specs/e1000e-82574.md), but a device is untrusted: open checks that its
// BAR 0 covers these before any access (check_bar0_size, device_reset.hpp).
inline constexpr std::size_t bar0_bytes_used = reg::receive_address_high + 4;
static_assert(reg::multicast_table + 128 * 4 <= bar0_bytes_used && reg::missed_packets < bar0_bytes_used);

namespace ctrl {
inline constexpr std::uint32_t auto_speed_detect = 0x20;  // ASDE
inline constexpr std::uint32_t set_link_up = 0x40;        // SLU
inline constexpr std::uint32_t reset = 0x04000000;        // RST, self-clearing
}  // namespace ctrl

namespace status {
inline constexpr std::uint32_t full_duplex = 0x1;
inline constexpr std::uint32_t link_up = 0x2;
inline constexpr std::uint32_t speed_mask = 0xc0;  // 0x00 10, 0x40 100, 0x80 1000 Mb/s
}  // namespace status

inline constexpr std::uint32_t receive_address_valid = 0x80000000;  // RAH.AV

// Interrupt causes (ICR/IMS/IMC/EIAC bits) and IVAR fields used in
// interrupt mode (MSI-X).
namespace interrupt {
inline constexpr std::uint32_t receive_queue0 = 0x00100000;  // RXQ0: a receive descriptor of queue 0 written back
// IVAR: 4 bits per cause, vector number in bits 2:0 and bit 3 "valid";
// receive queue 0 is the lowest field. The other causes stay invalid.
inline constexpr std::uint32_t ivar_valid = 0x8;
}  // namespace interrupt

namespace rctl {
inline constexpr std::uint32_t enable = 0x2;
inline constexpr std::uint32_t broadcast_accept = 0x8000;   // BAM
inline constexpr std::uint32_t strip_crc = 0x04000000;      // SECRC
// Buffer size 2048: BSIZE 00 with BSEX 0, so no bit to set.
inline constexpr std::size_t buffer_size_2048 = 2048;
}  // namespace rctl

namespace rfctl {
// EXTEN: extended receive descriptors. Cleared: legacy descriptors.
inline constexpr std::uint32_t extended_status = 0x8000;
}  // namespace rfctl

namespace tctl {
inline constexpr std::uint32_t enable = 0x2;
inline constexpr std::uint32_t pad_short_packets = 0x8;  // PSP
inline constexpr std::uint32_t collision_threshold = 15U << 4;
inline constexpr std::uint32_t collision_distance = 63U << 12;
}  // namespace tctl
// TIPG defaults: IPGT 8, IPGR1 8, IPGR2 6.
inline constexpr std::uint32_t tipg_default = 8U | (8U << 10) | (6U << 20);

// Legacy descriptors (struct e1000_rx_desc / e1000_tx_desc), 16 bytes.
struct LegacyRxDesc {
  std::uint64_t buffer_addr;
  std::uint16_t length;
  std::uint16_t checksum;
  std::uint8_t status;  // DD 0x01, EOP 0x02
  std::uint8_t errors;
  std::uint16_t special;
};
static_assert(sizeof(LegacyRxDesc) == 16);
static_assert(offsetof(LegacyRxDesc, status) == 12);

struct LegacyTxDesc {
  std::uint64_t buffer_addr;
  std::uint16_t length;
  std::uint8_t checksum_offset;
  std::uint8_t command;  // EOP 0x01, IFCS 0x02, RS 0x08
  std::uint8_t status;   // DD 0x01
  std::uint8_t checksum_start;
  std::uint16_t special;
};
static_assert(sizeof(LegacyTxDesc) == 16);
static_assert(offsetof(LegacyTxDesc, command) == 11);
static_assert(offsetof(LegacyTxDesc, status) == 12);
inline constexpr std::uint8_t descriptor_done = 0x01;
inline constexpr std::uint8_t rx_status_end_of_packet = 0x02;  // EOP
// Receive errors that mean the frame itself is bad: CE (CRC) 0x01, SE
// (symbol) 0x02, SEQ (sequence) 0x04, CXE (carrier extension) 0x10, RXE
// (data) 0x80. TCPE/IPE (0x20/0x40) are checksum verdicts on a well-formed
// frame, left to the application.
inline constexpr std::uint8_t rx_errors_frame = 0x01 | 0x02 | 0x04 | 0x10 | 0x80;
// The largest frame a legacy transmit descriptor may carry without TSO:
// 1500 bytes of payload, the Ethernet header and one VLAN tag (the device
// appends the FCS, IFCS).
inline constexpr std::uint16_t tx_max_frame = 1518;
inline constexpr std::uint8_t tx_command_eop = 0x01;
inline constexpr std::uint8_t tx_command_insert_fcs = 0x02;
inline constexpr std::uint8_t tx_command_report_status = 0x08;

}  // namespace aether::drivers::e1000e
