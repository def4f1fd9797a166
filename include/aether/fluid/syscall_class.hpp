// Syscall classes of the fluid telemetry, and the one table that maps x86_64
// syscall numbers to them (src/fluid/syscall_class.cpp; docs/fluid.md lists it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace aether::fluid {

// The values index fluid_counters.syscalls[] in the BPF program
// (src/fluid/bpf/telemetry_counters.h): keep them dense and in this order.
enum class SyscallClass : std::uint8_t {
  io = 0,       // files and pipes: read/write, open/close, stat, fsync, splice...
  network = 1,  // sockets: socket/bind/connect/accept, send*/recv*, setsockopt...
  memory = 2,   // address space: mmap/munmap/mprotect/brk/madvise/mlock...
  sync = 3,     // waiting and synchronising: futex, poll/epoll/select, nanosleep, sched_yield, wait4...
  other = 4,    // everything else (getpid, getppid, clock_gettime, ioctl...)
};
inline constexpr std::size_t syscall_class_count = 5;
// Numbers at or above this are classed `other` (x86_64 tops out near 470).
inline constexpr std::size_t syscall_table_size = 512;

[[nodiscard]] std::string_view syscall_class_name(SyscallClass syscall_class) noexcept;

// The class of x86_64 syscall `number`; `other` for unknown or negative numbers.
[[nodiscard]] SyscallClass classify_syscall_x86_64(long number) noexcept;

// classify_syscall_x86_64 for every number below syscall_table_size, as the
// BPF program's read-only table.
[[nodiscard]] std::array<std::uint8_t, syscall_table_size> syscall_class_table_x86_64() noexcept;

}  // namespace aether::fluid
