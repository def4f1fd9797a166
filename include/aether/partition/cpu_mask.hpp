// The kernel's hexadecimal cpumask format ("ff,ffffffff"), used by
// /proc/irq/default_smp_affinity, /proc/irq/N/smp_affinity and
// /sys/devices/virtual/workqueue/cpumask (which have no list variant).
//
// Format (lib/bitmap-str.c, bitmap_parse() and the "%*pb" printer): 32-bit
// chunks in hexadecimal, most significant first, separated by commas; each
// chunk after the first has 8 digits. Documentation/core-api/irq/
// irq-affinity.rst shows "ffffffff,ffffffff" for 64 CPUs.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"

namespace aether::partition {

// The CPUs set in `text` (whitespace around it ignored), sorted. Errors quote
// the text.
Result<std::vector<unsigned>> parse_cpu_mask(std::string_view text);

// `cpus` as the kernel prints a mask of `cpu_count` bits (nr_cpu_ids, i.e. the
// last possible CPU + 1): "3" for CPUs 0-1 of 2, "0c" for CPUs 2-3 of 8,
// "00000001,00000000" for CPU 32 of 64. CPUs at or beyond `cpu_count` widen
// the mask to hold them.
std::string format_cpu_mask(std::span<const unsigned> cpus, unsigned cpu_count);

}  // namespace aether::partition
