// CPU lists in the Linux "list format": "0-3,5,7-9".
//
// This is the format of /sys/devices/system/cpu/{possible,online,isolated,...},
// of cpuN/topology/*_list and of the CPU-list kernel parameters (isolcpus=,
// nohz_full=, rcu_nocbs=, irqaffinity=). The grammar follows the kernel's
// parser, bitmap_parselist() in lib/bitmap-str.c, documented in
// Documentation/admin-guide/kernel-parameters.rst, section "cpu lists":
//
//   list   := region { "," region }
//   region := number
//           | number "-" number                        (ascending range)
//           | number "-" number ":" used "/" group     (from each group of
//                                                       `group` CPUs starting
//                                                       at the range start, the
//                                                       first `used` ones)
//   number := decimal | "N"                            ("N": the last CPU; only
//                                                       with parse_cpu_list's
//                                                       last_cpu overload)
//
// Example from the kernel documentation: "100-2000:2/25" is 100,101,125,126,...
//
// One Aether extension, which the kernel does NOT accept: "a-b:stride" is
// short for "a-b:1/stride" ("0-8:2" is 0,2,4,6,8). It exists for hand-written
// command-line options; lists destined for the kernel should not use it.
// The kernel's "all" keyword is accepted with the last_cpu overload too.
//
// Parsing happens on the control path (allocates, returns Result).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"

namespace aether {

// Largest CPU number accepted. The kernel's CONFIG_NR_CPUS tops out at 8192
// on x86-64 (arch/x86/Kconfig, MAXSMP); the margin guards against a typo such
// as "0-4000000000" turning into a multi-gigabyte vector.
inline constexpr unsigned max_cpu_id = 65535;

// Parses `text` (leading/trailing whitespace and newlines are ignored; an empty
// or all-blank text is the empty list). Returns the CPUs sorted, without
// duplicates. Errors (std::errc::invalid_argument) quote the whole text and the
// region at fault, e.g. `bad CPU list "0-3,x": region "x" is not a number`.
// "N" and "all" are rejected here because their meaning depends on the host.
Result<std::vector<unsigned>> parse_cpu_list(std::string_view text);

// As above, with "N" standing for `last_cpu` and "all" for 0-`last_cpu`, as the
// kernel does (it uses nr_cpu_ids - 1, i.e. the last possible CPU).
Result<std::vector<unsigned>> parse_cpu_list(std::string_view text, unsigned last_cpu);

// Formats CPUs as the most compact plain list ("0-3,5,7-9"). The input need not
// be sorted or unique; the output is both. Empty input gives "".
// parse_cpu_list(format_cpu_list(x)) == sorted unique x.
std::string format_cpu_list(std::span<const unsigned> cpus);

// True if `cpu` is in `sorted_cpus` (a parse_cpu_list result). O(log n).
bool cpu_list_contains(std::span<const unsigned> sorted_cpus, unsigned cpu) noexcept;

}  // namespace aether
