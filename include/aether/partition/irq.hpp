// Interrupt affinities: which IRQs may reach which CPUs, and which of them
// the kernel manages itself.
//
// Sources (Documentation/core-api/irq/irq-affinity.rst; kernel/irq/proc.c):
//   /proc/irq/N/smp_affinity_list       CPUs the IRQ may target (requested)
//   /proc/irq/N/effective_affinity_list CPUs the interrupt controller really
//                                       targets (often one CPU of the above;
//                                       absent without
//                                       CONFIG_GENERIC_IRQ_EFFECTIVE_AFF_MASK)
//   /proc/irq/N/<name>/                 one directory per registered handler
//   /proc/irq/default_smp_affinity      hex mask given to IRQs when activated
//   /proc/interrupts                    per-CPU counts of each IRQ
//
// Managed IRQs (multi-queue devices whose vectors the kernel spreads over the
// CPUs, IRQD_AFFINITY_MANAGED) cannot be moved from user space: a write to
// their smp_affinity(_list) fails in write_irq_affinity() because
// irq_can_set_affinity_usr() is false, with EIO (EPERM on newer kernels). Only
// `isolcpus=managed_irq,...` at boot or fewer device queues keep them off a
// CPU. /proc shows nothing that tells them apart; the IRQ debugfs
// (CONFIG_GENERIC_IRQ_DEBUGFS, /sys/kernel/debug/irq/irqs/N) lists the flag
// "IRQD_AFFINITY_MANAGED". Without it, status says "unknown" and apply learns
// it from the failed write.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/partition/host_access.hpp"

namespace aether::partition {

enum class IrqManaged { unknown, managed, unmanaged };

struct IrqInfo {
  unsigned number = 0;
  std::string name;                                // handler names, else the /proc/interrupts text
  std::vector<unsigned> affinity;                  // smp_affinity_list
  std::optional<std::vector<unsigned>> effective;  // effective_affinity_list, if the kernel has it
  IrqManaged managed = IrqManaged::unknown;
  std::vector<std::pair<unsigned, std::uint64_t>> counts;  // (cpu, count) from /proc/interrupts
};

struct IrqTable {
  std::vector<IrqInfo> irqs;               // by ascending number
  std::vector<unsigned> default_affinity;  // /proc/irq/default_smp_affinity
  std::string default_affinity_text;       // the hex mask as read
  bool managed_flags_visible = false;      // the IRQ debugfs was readable
};

// Reads the files above. IRQs whose smp_affinity_list is unreadable (they
// vanish while the directory is read) are skipped; a malformed list is an
// Error naming the file.
Result<IrqTable> read_irqs(const HostAccess& host);

// Parses /proc/interrupts text into (irq number -> per-CPU counts); rows that
// are not numbered IRQs (NMI, LOC, ...) are left out. The header names the
// CPU of each column.
struct InterruptCounts {
  unsigned irq = 0;
  std::vector<std::pair<unsigned, std::uint64_t>> counts;
  std::string description;  // the text after the counts (chip, hwirq, handlers)
};
std::vector<InterruptCounts> parse_proc_interrupts(std::string_view text);

}  // namespace aether::partition
