// `aether partition plan`: the boot parameters and run-time steps that make a
// set of CPUs the Aether partition on this host, and what this kernel cannot
// do at run time.
//
// Boot parameters (Documentation/admin-guide/kernel-parameters.txt; spec
// section 4.3):
//   isolcpus=managed_irq,domain,<aether>  no load balancing, no managed IRQs
//   nohz_full=<aether>                    no tick while one task runs; implies
//                                         RCU callback offload for these CPUs
//   rcu_nocbs=<aether>                    explicit, for kernels and readers
//                                         that do not know the implication
//   irqaffinity=<housekeeping>            default affinity of unmanaged IRQs
#pragma once

#include <string>
#include <vector>

#include "aether/core/cpu_topology.hpp"
#include "aether/core/result.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/kernel_version.hpp"
#include "aether/partition/knobs.hpp"

namespace aether::partition {

// Refuses impossible Aether CPU sets, with the reason: empty; a CPU that does
// not exist (not in /sys/devices/system/cpu/possible) or is offline; CPU 0
// (the boot CPU stays housekeeping: it keeps timekeeping, and nohz_full=
// forces it out anyway); all online CPUs (nothing left for the host); and,
// unless `allow_smt_split`, a CPU whose SMT sibling would stay with the host.
Result<void> validate_aether_cpus(const HostCpus& host, const std::vector<unsigned>& aether_cpus, bool allow_smt_split);

// A reasonable first choice when none is given: the upper half of the online
// CPUs (at least one), whole SMT cores only, never CPU 0's core. Empty when
// the host has a single core.
std::vector<unsigned> suggest_aether_cpus(const HostCpus& host);

struct PartitionPlan {
  std::vector<unsigned> aether_cpus;
  std::vector<unsigned> housekeeping_cpus;
  std::string boot_parameters;                   // "isolcpus=... nohz_full=... rcu_nocbs=... irqaffinity=..."
  std::vector<std::string> replaced_parameters;  // parameters now on the command line that these replace
  std::vector<std::string> boot_instructions;    // GRUB on Debian/Ubuntu and RHEL
  std::vector<std::string> runtime_steps;        // what `apply` will do on this host
  std::vector<std::string> boot_only;            // what cannot be done at run time on this kernel
  std::vector<std::string> notes;                // e.g. the boot parameters are already in place
};

// Validates (as above) and builds the plan for this host and kernel.
// `nohz_full_supported`: /sys/devices/system/cpu/nohz_full exists (the kernel
// has CONFIG_NO_HZ_FULL; without it nohz_full= is ignored).
// `knobs`: what apply is told to leave alone (--keep-rt-throttling,
// --keep-idle-states); the plan says what each knob does and risks.
Result<PartitionPlan> make_plan(const HostCpus& host, const KernelVersion& kernel, const CgroupMounts& mounts,
                                const std::vector<unsigned>& aether_cpus, bool allow_smt_split,
                                bool nohz_full_supported = true, const KnobChoices& knobs = {});

// The plan for people.
std::string format_plan(const PartitionPlan& plan);

}  // namespace aether::partition
