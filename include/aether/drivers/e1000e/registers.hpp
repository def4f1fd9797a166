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
inline constexpr std::size_t imc = 0x000d8;  // write-only: mask interrupts
inline constexpr std::size_t receive_address_low = 0x05400;   // RAL(0)
inline constexpr std::size_t receive_address_high = 0x05404;  // RAH(0)
}  // namespace reg

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

}  // namespace aether::drivers::e1000e
