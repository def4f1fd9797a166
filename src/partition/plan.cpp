// `aether partition plan`: validation of an Aether CPU set, the boot
// parameters for it and the run-time steps apply will take.
#include "aether/partition/plan.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/cpu_mask.hpp"
#include "aether/partition/journal.hpp"
#include "cpu_set_ops.hpp"

namespace aether::partition {
namespace {

using detail::cpu_difference;

// The CPUs sharing a core with `cpu` (itself included).
std::vector<unsigned> core_of(const HostCpus& host, unsigned cpu) {
  const CpuInfo* info = host.find(cpu);
  if (info == nullptr || info->smt_siblings.empty()) return {cpu};
  return info->smt_siblings;
}

// The parameters on the command line (before "--") that the plan sets to
// something else.
std::vector<std::string> parameters_replaced(const std::string& cmdline, const std::string& planned) {
  std::vector<std::string> replaced;
  std::size_t position = 0;
  while (position < cmdline.size()) {
    const std::size_t begin = cmdline.find_first_not_of(' ', position);
    if (begin == std::string::npos) break;
    const std::size_t end = std::min(cmdline.find(' ', begin), cmdline.size());
    const std::string word = cmdline.substr(begin, end - begin);
    if (word == "--") break;
    const std::string name = word.substr(0, word.find('='));
    const bool planned_too = (" " + planned + " ").find(" " + word + " ") != std::string::npos;
    if ((name == "isolcpus" || name == "nohz_full" || name == "rcu_nocbs" || name == "irqaffinity") && !planned_too) {
      replaced.push_back(word);
    }
    position = end;
  }
  return replaced;
}

// Step 0 of apply.hpp, each knob with what it does and what it risks.
void add_knob_steps(PartitionPlan& plan, const KnobChoices& knobs) {
  const std::string aether = format_cpu_list(plan.aether_cpus);
  if (knobs.keep_rt_throttling) {
    plan.runtime_steps.push_back(
        "leave kernel.sched_rt_runtime_us as it is (--keep-rt-throttling): with throttling on, a SCHED_FIFO "
        "worker (--fifo) is stopped for the rest of each period once it has run sched_rt_runtime_us of it (by "
        "default 50 ms of every second), and `aether bench --fifo` refuses to run unless --allow-rt-throttling");
  } else {
    plan.runtime_steps.push_back(
        "write -1 to /proc/sys/kernel/sched_rt_runtime_us: no RT throttling, so a SCHED_FIFO worker (--fifo) is "
        "never stopped for the last 50 ms of each second (scheduler/sched-rt-group.rst). Risk: a SCHED_FIFO task "
        "that never sleeps then keeps its CPU for good; on a housekeeping CPU it starves the kernel threads there "
        "(RCU, ksoftirqd, kworkers) and can hang the host. Keep throttling with --keep-rt-throttling");
  }
  plan.runtime_steps.push_back(
      "write 0 to /proc/sys/kernel/timer_migration: a timer stays on the CPU that armed it, none is moved to an "
      "Aether CPU (sysctl/kernel.rst)");
  plan.runtime_steps.push_back(fmt::format(
      "write {0} to /proc/sys/vm/stat_interval if it is shorter: per-CPU vmstat updates every {0} s instead of "
      "every second (sysctl/vm.rst); /proc/vmstat and meminfo lag by as much",
      quiet_stat_interval_s));
  if (knobs.keep_idle_states) {
    plan.runtime_steps.push_back(fmt::format(
        "leave the idle states of CPUs {} and /dev/cpu_dma_latency alone (--keep-idle-states)", aether));
    return;
  }
  plan.runtime_steps.push_back(fmt::format(
      "write 1 to /sys/devices/system/cpu/cpuN/cpuidle/stateK/disable for each idle state of CPUs {} slower than "
      "{} us to leave, where there is a cpuidle driver: a worker that sleeps on an interrupt (wait=block) wakes in "
      "a microsecond or two instead of a deep state's exit latency (C6: 100 us and more); those CPUs draw more "
      "power when idle. Keep them with --keep-idle-states",
      aether, deep_idle_exit_latency_us));
  plan.runtime_steps.push_back(
      "record that --partition workers hold /dev/cpu_dma_latency at 0 while they run (PM QoS, "
      "power/pm_qos_interface.rst): no CPU then idles deeper than polling, the host CPUs too, for as long as "
      "an Aether data plane runs; the request ends with its process");
}

}  // namespace

Result<void> validate_aether_cpus(const HostCpus& host, const std::vector<unsigned>& aether_cpus,
                                  bool allow_smt_split) {
  if (aether_cpus.empty()) return invalid_argument("no Aether CPUs given");
  std::vector<std::string> reasons;
  const auto absent = cpu_difference(aether_cpus, host.possible);
  if (!absent.empty()) {
    reasons.push_back(fmt::format("CPUs {} do not exist (this host has CPUs {})", format_cpu_list(absent),
                                  format_cpu_list(host.possible)));
  }
  const auto offline = cpu_difference(cpu_difference(aether_cpus, absent), host.online);
  if (!offline.empty()) reasons.push_back(fmt::format("CPUs {} are offline", format_cpu_list(offline)));
  if (cpu_difference(host.online, aether_cpus).empty()) {
    reasons.push_back(
        fmt::format("CPUs {} are all the online CPUs: none would be left for the host", format_cpu_list(aether_cpus)));
  } else if (cpu_list_contains(aether_cpus, 0)) {
    reasons.push_back("CPU 0 is the boot CPU and stays housekeeping (it keeps timekeeping; nohz_full= leaves it out)");
  }
  if (!allow_smt_split) {
    for (unsigned cpu : aether_cpus) {
      for (unsigned sibling : core_of(host, cpu)) {
        if (!cpu_list_contains(aether_cpus, sibling)) {
          reasons.push_back(
              fmt::format("CPU {}'s SMT sibling {} would stay with the host (add it, or pass "
                          "--allow-smt-split to accept a shared core)",
                          cpu, sibling));
        }
      }
    }
  }
  if (reasons.empty()) return {};
  return invalid_argument(fmt::format("cannot make CPUs {} the Aether partition: {}", format_cpu_list(aether_cpus),
                                      fmt::join(reasons, "; ")));
}

std::vector<unsigned> suggest_aether_cpus(const HostCpus& host) {
  // Cores, each as its sorted online CPUs, keyed by their lowest CPU.
  std::map<unsigned, std::vector<unsigned>> cores;
  for (unsigned cpu : host.online) {
    auto siblings = detail::cpu_intersection(core_of(host, cpu), host.online);
    if (siblings.empty()) siblings = {cpu};
    cores.emplace(siblings.front(), std::move(siblings));
  }
  const std::size_t wanted = std::max<std::size_t>(1, host.online.size() / 2);
  std::vector<unsigned> chosen;
  for (auto core = cores.rbegin(); core != cores.rend() && chosen.size() < wanted; ++core) {
    if (cpu_list_contains(core->second, 0)) continue;
    chosen.insert(chosen.end(), core->second.begin(), core->second.end());
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

Result<PartitionPlan> make_plan(const HostCpus& host, const KernelVersion& kernel, const CgroupMounts& mounts,
                                const std::vector<unsigned>& aether_cpus, bool allow_smt_split,
                                bool nohz_full_supported, const KnobChoices& knobs) {
  if (auto valid = validate_aether_cpus(host, aether_cpus, allow_smt_split); !valid) return std::move(valid).error();
  PartitionPlan plan;
  plan.aether_cpus = aether_cpus;
  plan.housekeeping_cpus = cpu_difference(host.online, aether_cpus);
  const std::string aether = format_cpu_list(aether_cpus);
  const std::string housekeeping = format_cpu_list(plan.housekeeping_cpus);
  const unsigned cpu_count = host.possible.back() + 1;
  const std::string housekeeping_mask = format_cpu_mask(plan.housekeeping_cpus, cpu_count);

  plan.boot_parameters =
      fmt::format("isolcpus=managed_irq,domain,{0} nohz_full={0} rcu_nocbs={0} irqaffinity={1}", aether, housekeeping);
  plan.replaced_parameters = parameters_replaced(host.kernel_cmdline, plan.boot_parameters);
  const bool in_place = host.cmdline_isolcpus == aether_cpus && host.cmdline_nohz_full == aether_cpus &&
                        host.cmdline_isolcpus_flags.find("managed_irq") != std::string::npos &&
                        host.cmdline_isolcpus_flags.find("domain") != std::string::npos;
  if (in_place) plan.notes.push_back("isolcpus= and nohz_full= for these CPUs are already on the kernel command line");

  const std::string remove_list = plan.replaced_parameters.empty()
                                      ? std::string()
                                      : fmt::format(" (remove {} from it)", fmt::join(plan.replaced_parameters, " "));
  plan.boot_instructions = {
      fmt::format("Debian/Ubuntu: in /etc/default/grub add the parameters to GRUB_CMDLINE_LINUX=\"...\"{}, then: "
                  "sudo update-grub && sudo reboot",
                  remove_list),
      fmt::format("RHEL/Fedora/CentOS: sudo grubby --update-kernel=ALL --args=\"{}\"{} && sudo reboot",
                  plan.boot_parameters,
                  plan.replaced_parameters.empty()
                      ? std::string()
                      : fmt::format(" (first: sudo grubby --update-kernel=ALL --remove-args=\"{}\")",
                                    fmt::join(plan.replaced_parameters, " "))),
      fmt::format("after the reboot: aether partition status --aether-cpus {}", aether),
  };

  add_knob_steps(plan, knobs);
  if (mounts.v2 && mounts.v2_has_cpuset) {
    const bool isolated = has_isolated_partitions(kernel);
    plan.runtime_steps.push_back(fmt::format(
        "create cgroup {}/aether with cpuset.cpus={} and cpuset.cpus.partition={} (enabling +cpuset in the root's "
        "cgroup.subtree_control if needed)",
        *mounts.v2, aether, isolated ? "isolated" : "root"));
  } else if (mounts.v1_cpuset) {
    plan.runtime_steps.push_back(fmt::format(
        "create cpuset {0}/aether (cpus {1}, cpu_exclusive=1, sched_load_balance=0) and {0}/aether-housekeeping "
        "(cpus {2}), move the top cpuset's tasks into the latter and set the top cpuset's sched_load_balance=0",
        *mounts.v1_cpuset, aether, housekeeping));
  } else {
    plan.runtime_steps.push_back(
        "no cpuset hierarchy is mounted: no cpuset partition (load balancing isolation "
        "then comes from isolcpus=domain only)");
  }
  plan.runtime_steps.push_back(fmt::format(
      "restrict every task and unbound kthread allowed on CPUs {} to CPUs {} (sched_setaffinity; per-CPU kthreads "
      "stay, tasks confined to Aether CPUs are left alone)",
      aether, housekeeping));
  plan.runtime_steps.push_back(fmt::format(
      "write {} to /proc/irq/N/smp_affinity_list of every IRQ allowed on CPUs {}; the kernel refuses managed IRQs, "
      "apply lists them",
      housekeeping, aether));
  plan.runtime_steps.push_back(fmt::format("write {} to /proc/irq/default_smp_affinity", housekeeping_mask));
  plan.runtime_steps.push_back(fmt::format(
      "write {} to /sys/devices/virtual/workqueue/cpumask{}", housekeeping_mask,
      partitions_exclude_workqueues(kernel) ? " (an isolated partition also excludes its CPUs on this kernel)" : ""));
  plan.runtime_steps.push_back("with --hugepages N: set vm.nr_hugepages to N");
  plan.runtime_steps.push_back(
      fmt::format("first journal every previous value (default {}) so that `aether "
                  "partition revert` restores it, also after a crash",
                  default_journal_path));

  plan.boot_only.push_back(fmt::format("stopping the scheduler tick on CPUs {} (nohz_full=)", aether));
  plan.boot_only.push_back(
      fmt::format("offloading RCU callbacks from CPUs {} (rcu_nocbs=, implied by nohz_full=)", aether));
  plan.boot_only.push_back("keeping managed IRQs (multi-queue devices) off the Aether CPUs (isolcpus=managed_irq)");
  if (!has_isolated_partitions(kernel) && !mounts.v1_cpuset) {
    plan.boot_only.push_back(fmt::format(
        "turning off load balancing: kernel {} predates cgroup v2 isolated partitions (6.1), so isolcpus=domain "
        "does it",
        kernel.short_text()));
  }
  if (!partitions_exclude_timer_migration(kernel)) {
    plan.boot_only.push_back(fmt::format(
        "keeping a partition's CPUs out of timer migration: needs 6.19 (this is {}); nohz_full= covers it at boot, "
        "or sysctl kernel.timer_migration=0",
        kernel.short_text()));
  }
  if (!nohz_full_supported) {
    plan.notes.push_back(
        fmt::format("this kernel ({}) is built without CONFIG_NO_HZ_FULL (no "
                    "/sys/devices/system/cpu/nohz_full): it ignores nohz_full=; boot a kernel that "
                    "has it (Debian's and RHEL's do)",
                    kernel.release));
  }
  if (!partitions_exclude_workqueues(kernel)) {
    plan.notes.push_back(
        fmt::format("kernel {} predates 6.8: isolated partitions do not exclude unbound "
                    "workqueues, so apply writes the workqueue cpumask itself",
                    kernel.short_text()));
  }
  return plan;
}

std::string format_plan(const PartitionPlan& plan) {
  std::string text = fmt::format("Aether CPUs {}, housekeeping CPUs {}\n\n", format_cpu_list(plan.aether_cpus),
                                 format_cpu_list(plan.housekeeping_cpus));
  text += fmt::format("Kernel command line to add:\n  {}\n", plan.boot_parameters);
  if (!plan.replaced_parameters.empty()) {
    text += fmt::format("  replacing: {}\n", fmt::join(plan.replaced_parameters, " "));
  }
  text += "\nHow to add it:\n";
  for (const std::string& line : plan.boot_instructions) text += fmt::format("  - {}\n", line);
  text += "\nRun-time steps (aether partition apply):\n";
  for (std::size_t i = 0; i < plan.runtime_steps.size(); ++i) {
    text += fmt::format("  {}. {}\n", i + 1, plan.runtime_steps[i]);
  }
  text += "\nNot possible at run time on this kernel (boot parameters only):\n";
  for (const std::string& line : plan.boot_only) text += fmt::format("  - {}\n", line);
  if (!plan.notes.empty()) {
    text += "\nNotes:\n";
    for (const std::string& line : plan.notes) text += fmt::format("  - {}\n", line);
  }
  return text;
}

}  // namespace aether::partition
