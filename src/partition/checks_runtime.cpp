// Status checks of run-time state: IRQ affinities, cpusets, tasks, the
// workqueue cpumask and an applied partition's journal.
#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/cpu_mask.hpp"
#include "checks.hpp"
#include "cpu_set_ops.hpp"

namespace aether::partition::detail {
namespace {

unsigned cpu_count(const StatusInputs& in) { return in.cpus.possible.empty() ? 1 : in.cpus.possible.back() + 1; }

std::uint64_t count_on(const IrqInfo& irq, const std::vector<unsigned>& cpus) {
  std::uint64_t total = 0;
  for (const auto& [cpu, count] : irq.counts) {
    if (cpu_list_contains(cpus, cpu)) total += count;
  }
  return total;
}

Check irq_check(const StatusInputs& in) {
  Check check{"irq.affinity", CheckLevel::ok, {}, {}, {}};
  if (in.irq_error) {
    check.level = CheckLevel::warn;
    check.finding = "cannot read the IRQ affinities";
    check.details.push_back(*in.irq_error);
    return check;
  }
  const auto& irqs = in.irqs.irqs;
  if (in.aether.empty()) {
    check.level = CheckLevel::info;
    check.finding = fmt::format("{} IRQs in /proc/irq", irqs.size());
    return check;
  }
  // With isolcpus=managed_irq the kernel already keeps managed IRQs on
  // housekeeping CPUs where their mask allows; one that stays is a device
  // queue dedicated to an Aether CPU, raised only by I/O submitted there
  // (kernel-parameters.txt, isolcpus= managed_irq).
  const bool managed_irq_flag = in.cpus.cmdline_isolcpus_flags.find("managed_irq") != std::string::npos &&
                                cpu_subset(in.aether, in.cpus.cmdline_isolcpus);
  std::vector<std::string> effective_on_aether, allowed_on_aether;
  std::size_t failing = 0, managed = 0, dedicated_queues = 0;
  for (const IrqInfo& irq : irqs) {
    if (!cpu_overlap(irq.affinity, in.aether)) continue;
    const bool effective_there = irq.effective ? cpu_overlap(*irq.effective, in.aether) : true;
    std::string line = fmt::format("IRQ {} {}: allowed {}", irq.number, irq.name, format_cpu_list(irq.affinity));
    if (irq.effective) {
      line += fmt::format(", effective {}", irq.effective->empty() ? "none" : format_cpu_list(*irq.effective));
    }
    if (const auto fired = count_on(irq, in.aether)) line += fmt::format(", {} on Aether CPUs since boot", fired);
    if (irq.managed == IrqManaged::managed) {
      line += " [managed]";
      ++managed;
    }
    const bool dedicated = irq.managed == IrqManaged::managed && managed_irq_flag;
    if (effective_there && dedicated) {
      ++dedicated_queues;
      line += " (a queue of this CPU: fires for I/O submitted there)";
    } else if (effective_there) {
      ++failing;
    }
    (effective_there ? effective_on_aether : allowed_on_aether).push_back(std::move(line));
  }
  const std::size_t reaching = effective_on_aether.size() + allowed_on_aether.size();
  if (reaching == 0) {
    check.finding = fmt::format("none of {} IRQs may target Aether CPUs", irqs.size());
    return check;
  }
  check.level = failing > 0 ? CheckLevel::fail : CheckLevel::warn;
  check.finding = fmt::format("{} of {} IRQs may target Aether CPUs, {} of them are delivered there now", reaching,
                              irqs.size(), effective_on_aether.size());
  constexpr std::size_t shown = 8;
  std::size_t listed = 0;
  for (const auto* lines : {&effective_on_aether, &allowed_on_aether}) {
    for (const std::string& line : *lines) {
      if (listed++ < shown) check.details.push_back(line);
    }
  }
  if (reaching > shown) check.details.push_back(fmt::format("... and {} more", reaching - shown));
  if (!in.irqs.managed_flags_visible) {
    check.details.push_back(
        "managed IRQs cannot be told apart here (no /sys/kernel/debug/irq); the kernel refuses to move them "
        "(EIO/EPERM) and apply reports which");
  }
  std::vector<std::string> fixes;
  if (reaching > managed) {
    fixes.push_back(
        fmt::format("aether partition apply --aether-cpus {} (writes {} to each unmanaged IRQ's "
                    "/proc/irq/N/smp_affinity_list)",
                    format_cpu_list(in.aether), format_cpu_list(in.housekeeping)));
  }
  if ((managed > 0 || !in.irqs.managed_flags_visible) && !managed_irq_flag) {
    fixes.push_back(
        "managed IRQs: boot with isolcpus=managed_irq,domain,... or give the device fewer queues "
        "(ethtool -L)");
  }
  if (dedicated_queues > 0) {
    fixes.push_back("dedicated queues: submit no I/O from Aether CPUs, or give the device fewer queues (ethtool -L)");
  }
  check.fix = fmt::format("{}", fmt::join(fixes, "; "));
  return check;
}

Check default_affinity_check(const StatusInputs& in) {
  Check check{"irq.default_affinity", CheckLevel::ok, {}, {}, {}};
  if (in.irqs.default_affinity_text.empty()) {
    check.level = CheckLevel::info;
    check.finding = "/proc/irq/default_smp_affinity absent";
    return check;
  }
  check.finding = fmt::format("/proc/irq/default_smp_affinity: {} (CPUs {})", in.irqs.default_affinity_text,
                              format_cpu_list(in.irqs.default_affinity));
  if (in.aether.empty()) {
    check.level = CheckLevel::info;
  } else if (cpu_overlap(in.irqs.default_affinity, in.aether)) {
    check.level = CheckLevel::warn;
    check.details.push_back("IRQs activated from now on may target Aether CPUs");
    check.fix = fmt::format("echo {} > /proc/irq/default_smp_affinity (apply does it), or boot with irqaffinity={}",
                            format_cpu_mask(in.housekeeping, cpu_count(in)), format_cpu_list(in.housekeeping));
  }
  return check;
}

Check cpuset_check(const StatusInputs& in) {
  Check check{"cpuset", CheckLevel::ok, {}, {}, {}};
  const CpusetState& state = in.cpusets;
  const CgroupMounts& mounts = state.mounts;
  std::vector<std::string> seen;
  if (mounts.v2)
    seen.push_back(fmt::format("cgroup v2 at {} (cpuset controller {})", *mounts.v2,
                               mounts.v2_has_cpuset ? "available" : "not available"));
  if (mounts.v1_cpuset) {
    seen.push_back(fmt::format("cgroup v1 cpuset at {}{}", *mounts.v1_cpuset,
                               state.v1_root
                                   ? fmt::format(" (top sched_load_balance={})", state.v1_root->load_balance ? 1 : 0)
                                   : std::string()));
  }
  check.finding = seen.empty() ? std::string("no cpuset controller mounted") : fmt::format("{}", fmt::join(seen, "; "));
  bool invalid = false;
  for (const CpusetPartition& partition : state.partitions) {
    check.details.push_back(
        fmt::format("partition {}: {}, CPUs {}", partition.path, partition.state, format_cpu_list(partition.cpus)));
    invalid = invalid || !partition.valid;
  }
  if (state.v2_isolated)
    check.details.push_back(fmt::format("cpuset.cpus.isolated: {}", format_cpu_list(*state.v2_isolated)));
  for (const CpusetV1& cpuset : state.v1_children) {
    if (cpuset.load_balance && !cpuset.cpu_exclusive) continue;
    check.details.push_back(fmt::format("cpuset {}: CPUs {}, cpu_exclusive={}, sched_load_balance={}, {} tasks",
                                        cpuset.path, format_cpu_list(cpuset.cpus), cpuset.cpu_exclusive ? 1 : 0,
                                        cpuset.load_balance ? 1 : 0, cpuset.task_count));
  }
  if (mounts.v2 && mounts.v2_has_cpuset && !has_isolated_partitions(in.kernel)) {
    check.details.push_back(
        fmt::format("kernel {} predates isolated partitions (6.1): a \"root\" partition still "
                    "balances load inside itself",
                    in.kernel.short_text()));
  }
  if (invalid) {
    check.level = CheckLevel::fail;
    check.fix =
        "an invalid partition isolates nothing: read its reason above, make its cpuset.cpus exclusive "
        "among its siblings, or revert";
    return check;
  }
  if (in.aether.empty()) {
    check.level = CheckLevel::info;
    return check;
  }
  if (cpu_subset(in.aether, in.cpuset_isolated)) {
    check.details.insert(check.details.begin(),
                         fmt::format("Aether CPUs {} are in an isolated cpuset", format_cpu_list(in.aether)));
    return check;
  }
  if (cpu_subset(in.aether, in.cpus.isolated)) {
    check.level = CheckLevel::info;
    check.details.insert(check.details.begin(),
                         "no isolating cpuset: not needed, isolcpus= isolates the Aether CPUs at boot");
    return check;
  }
  if (seen.empty() || (!mounts.v1_cpuset && !mounts.v2_has_cpuset)) {
    check.level = CheckLevel::warn;
    check.fix =
        "mount a cpuset hierarchy (cgroup v2 with +cpuset in cgroup.subtree_control, or a v1 cpuset) or "
        "isolate at boot with isolcpus=";
    return check;
  }
  check.level = CheckLevel::warn;
  check.fix = fmt::format("aether partition apply --aether-cpus {}", format_cpu_list(in.aether));
  return check;
}

// "bash x3, sshd, kworker/u8:1" from task names.
std::vector<std::string> grouped_names(const std::vector<const TaskInfo*>& tasks) {
  std::map<std::string, unsigned> counts;
  for (const TaskInfo* task : tasks) ++counts[task->name];
  std::vector<std::pair<std::string, unsigned>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> names;
  for (const auto& [name, count] : sorted) names.push_back(count > 1 ? fmt::format("{} x{}", name, count) : name);
  return names;
}

Check tasks_check(const StatusInputs& in) {
  Check check{"tasks", CheckLevel::ok, {}, {}, {}};
  if (in.aether.empty()) {
    check.level = CheckLevel::info;
    check.finding = fmt::format("{} tasks", in.tasks.size());
    return check;
  }
  std::vector<const TaskInfo*> movable_user, movable_kernel, pinned_per_cpu, confined;
  for (const TaskInfo& task : in.tasks) {
    if (!cpu_overlap(task.allowed, in.aether)) continue;
    if (task.pinned_by_kernel()) {
      pinned_per_cpu.push_back(&task);
    } else if (cpu_subset(task.allowed, in.aether)) {
      // A kthread confined there follows per-CPU or IRQ affinity (irq/N-name).
      (task.kernel_thread() ? pinned_per_cpu : confined).push_back(&task);
    } else {
      (task.kernel_thread() ? movable_kernel : movable_user).push_back(&task);
    }
  }
  check.finding = fmt::format(
      "{} of {} tasks may run on Aether CPUs: {} user tasks and {} kthreads the host could "
      "keep, {} kthreads bound there, {} user tasks confined to Aether CPUs",
      movable_user.size() + movable_kernel.size() + pinned_per_cpu.size() + confined.size(), in.tasks.size(),
      movable_user.size(), movable_kernel.size(), pinned_per_cpu.size(), confined.size());
  if (!movable_user.empty()) check.details.push_back("user tasks: " + name_some(grouped_names(movable_user)));
  if (!movable_kernel.empty()) check.details.push_back("kthreads: " + name_some(grouped_names(movable_kernel)));
  if (!pinned_per_cpu.empty()) {
    check.details.push_back("kthreads bound to Aether CPUs (per-CPU or IRQ threads; expected): " +
                            name_some(grouped_names(pinned_per_cpu), 4));
  }
  if (!confined.empty())
    check.details.push_back("confined to Aether CPUs (the data plane?): " + name_some(grouped_names(confined)));
  if (!movable_user.empty() || !movable_kernel.empty()) {
    check.level = CheckLevel::warn;
    check.fix = fmt::format(
        "aether partition apply --aether-cpus {} (moves them to CPUs {}); isolcpus=domain at boot "
        "keeps new tasks off",
        format_cpu_list(in.aether), format_cpu_list(in.housekeeping));
  }
  return check;
}

Check workqueue_check(const StatusInputs& in) {
  Check check{"workqueue", CheckLevel::ok, {}, {}, {}};
  if (!in.knobs.workqueue) {
    check.level = CheckLevel::info;
    check.finding = "/sys/devices/virtual/workqueue/cpumask absent";
    return check;
  }
  const WorkqueueMask& mask = *in.knobs.workqueue;
  check.finding = fmt::format("unbound workqueue cpumask: CPUs {}", format_cpu_list(mask.effective));
  auto list = [](const std::vector<unsigned>& cpus) {
    return cpus.empty() ? std::string("none") : format_cpu_list(cpus);
  };
  if (mask.requested) check.details.push_back(fmt::format("cpumask_requested: {}", list(*mask.requested)));
  if (mask.isolated) check.details.push_back(fmt::format("cpumask_isolated: {}", list(*mask.isolated)));
  if (in.aether.empty()) {
    check.level = CheckLevel::info;
    return check;
  }
  if (cpu_overlap(mask.effective, in.aether)) {
    check.level = CheckLevel::warn;
    check.details.push_back(fmt::format("unbound work items may run on Aether CPUs {}",
                                        format_cpu_list(cpu_intersection(mask.effective, in.aether))));
    check.fix = fmt::format("echo {} > /sys/devices/virtual/workqueue/cpumask (apply does it)",
                            format_cpu_mask(in.housekeeping, cpu_count(in)));
    if (partitions_exclude_workqueues(in.kernel)) {
      check.fix += "; on this kernel an isolated cpuset partition also excludes its CPUs";
    }
  }
  return check;
}

Check journal_check(const StatusInputs& in) {
  Check check{"journal", CheckLevel::info, {}, {}, {}};
  if (in.journal_error) {
    check.level = CheckLevel::warn;
    check.finding = *in.journal_error;
    check.fix = "inspect the file; revert needs it to restore the previous state";
    return check;
  }
  if (!in.journal) {
    check.finding = fmt::format("no apply journal at {}", in.journal_path);
    return check;
  }
  const JournalContents& journal = *in.journal;
  if (in.journal_other_boot) {
    check.level = CheckLevel::warn;
    check.finding = fmt::format("the apply journal {} (CPUs {}) is from another boot ({}): none of it is in effect",
                                in.journal_path, format_cpu_list(journal.header.aether_cpus), *in.journal_other_boot);
    check.fix = "`aether partition revert` removes it (restoring nothing), then apply again if wanted";
    return check;
  }
  check.finding = fmt::format("partition applied for CPUs {} ({} changes recorded{}) in {}",
                              format_cpu_list(journal.header.aether_cpus), journal.records.size(),
                              journal.complete ? "" : ", apply did not finish", in.journal_path);
  if (!journal.complete) {
    check.level = CheckLevel::warn;
    check.fix = "run apply again to finish, or revert";
  }
  return check;
}

}  // namespace

std::string name_some(const std::vector<std::string>& names, std::size_t shown) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < shown; ++i) {
    if (i > 0) text += ", ";
    text += names[i];
  }
  if (names.size() > shown) text += fmt::format(" and {} more", names.size() - shown);
  return text;
}

void check_runtime(const StatusInputs& inputs, std::vector<Check>& checks) {
  checks.push_back(irq_check(inputs));
  checks.push_back(default_affinity_check(inputs));
  checks.push_back(cpuset_check(inputs));
  checks.push_back(tasks_check(inputs));
  checks.push_back(workqueue_check(inputs));
  checks.push_back(journal_check(inputs));
}

}  // namespace aether::partition::detail
