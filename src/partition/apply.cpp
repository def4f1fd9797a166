// `aether partition apply`: the run-time partition, every change journaled
// first (the steps are listed in apply.hpp).
#include "aether/partition/apply.hpp"

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/core/cpu_topology.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/cpu_mask.hpp"
#include "aether/partition/irq.hpp"
#include "aether/partition/plan.hpp"
#include "aether/partition/tasks.hpp"
#include "apply_context.hpp"
#include "cpu_set_ops.hpp"

namespace aether::partition {
namespace detail {

Result<void> ApplyContext::change_file(const std::string& path, std::string_view value,
                                       const std::optional<std::string>& previous) {
  const auto current = host.read_trimmed(path);
  if (!current) return errno_error(fmt::format("cannot read {}", path), ENOENT);
  if (*current == value) return {};
  if (!journal.inside_created_directory(path)) {
    const JournalRecord record{JournalRecordKind::file, path, previous.value_or(*current), 0, 0};
    if (!journal.knows(record)) ++report.changes_journaled;
    if (auto journaled = journal.record(record); !journaled) return journaled;
  }
  return host.write(path, value);
}

Result<void> ApplyContext::create_directory(const std::string& path) {
  if (host.is_directory(path)) return {};
  const JournalRecord record{JournalRecordKind::directory, path, {}, 0, 0};
  if (!journal.knows(record)) ++report.changes_journaled;
  if (auto journaled = journal.record(record); !journaled) return journaled;
  auto created = host.make_directory(path);
  if (!created) return std::move(created).error();
  return {};
}

}  // namespace detail

namespace {

using detail::ApplyContext;
using detail::cpu_difference;
using detail::cpu_intersection;
using detail::cpu_overlap;
using detail::cpu_subset;

struct TaskMove {
  TaskInfo task;  // as it was before apply changed anything
  std::vector<unsigned> target;
  bool leaves_aether = false;  // it was allowed on Aether and host CPUs
};

// Step 1: journals the affinity of every task apply will change, directly
// (allowed on both sides) or as a side effect of the cpuset step: moving a
// task between v1 cpusets (cpuset_attach()) or changing the CPUs of its
// cpuset (update_tasks_cpumask()) resets its affinity to the cpuset's CPUs,
// losing its own pinning on kernels before 6.2 (which keep user_cpus_ptr).
// So with a cpuset step every movable task is journaled, and step 3 gives
// each its own CPUs back, minus the Aether CPUs.
Result<std::vector<TaskMove>> journal_task_affinities(ApplyContext& context, bool cpuset_step) {
  std::vector<TaskMove> moves;
  std::vector<JournalRecord> records;
  for (TaskInfo& task : read_tasks(context.host)) {
    const bool overlaps = cpu_overlap(task.allowed, context.aether);
    const bool confined = cpu_subset(task.allowed, context.aether);
    if (overlaps && task.pinned_by_kernel()) ++context.report.tasks_per_cpu_kthreads;
    if (overlaps && confined && !task.pinned_by_kernel()) ++context.report.tasks_confined;
    const bool leaves = overlaps && !confined && !task.pinned_by_kernel();
    if (!leaves && !(cpuset_step && !task.pinned_by_kernel())) continue;
    TaskMove move;
    move.leaves_aether = leaves;
    move.target = confined ? task.allowed : cpu_difference(task.allowed, context.aether);
    if (move.target.empty()) move.target = context.housekeeping;
    JournalRecord record{JournalRecordKind::affinity, {}, format_cpu_list(task.allowed), task.tid, task.start_time};
    if (!context.journal.knows(record)) ++context.report.changes_journaled;
    records.push_back(std::move(record));
    move.task = std::move(task);
    moves.push_back(std::move(move));
  }
  if (auto journaled = context.journal.record(records); !journaled) return std::move(journaled).error();
  return moves;
}

// Step 3.
void restrict_tasks(ApplyContext& context, const std::vector<TaskMove>& moves) {
  for (const TaskMove& move : moves) {
    const TaskInfo& task = move.task;
    // The same task still (a TID can be reused after an exit)?
    const auto now = read_task(context.host, task.tid);
    if (!now || now->start_time != task.start_time) {
      ++context.report.tasks_gone;
      continue;
    }
    if (now->allowed == move.target) {
      if (move.leaves_aether) ++context.report.tasks_moved;
      continue;
    }
    auto set = context.host.set_task_affinity(task.tid, move.target);
    if (set) {
      if (move.leaves_aether) ++context.report.tasks_moved;
    } else if (set.error().code == std::errc::no_such_process) {
      ++context.report.tasks_gone;
    } else {
      context.report.tasks_refused.push_back(
          fmt::format("{}[{}]: {}", task.name, task.tid, set.error().code.message()));
    }
  }
  context.report.done.push_back(fmt::format(
      "restricted {} tasks to CPUs outside {}; left alone: {} per-CPU kthreads, {} tasks confined to Aether CPUs",
      context.report.tasks_moved, format_cpu_list(context.aether), context.report.tasks_per_cpu_kthreads,
      context.report.tasks_confined));
}

// Step 4.
Result<void> steer_irqs(ApplyContext& context) {
  auto table = read_irqs(context.host);
  if (!table) return std::move(table).error();
  struct Move {
    std::string path;
    std::string target;
    unsigned irq;
  };
  std::vector<Move> moves;
  std::vector<JournalRecord> records;
  for (const IrqInfo& irq : table->irqs) {
    if (!cpu_overlap(irq.affinity, context.aether)) continue;
    auto target = cpu_intersection(irq.affinity, context.housekeeping);
    if (target.empty()) target = context.housekeeping;
    const std::string path = fmt::format("/proc/irq/{}/smp_affinity_list", irq.number);
    JournalRecord record{JournalRecordKind::irq, path, format_cpu_list(irq.affinity), 0, 0};
    if (!context.journal.knows(record)) ++context.report.changes_journaled;
    records.push_back(std::move(record));
    moves.push_back({path, format_cpu_list(target), irq.number});
  }
  if (auto journaled = context.journal.record(records); !journaled) return journaled;
  for (const Move& move : moves) {
    auto written = context.host.write(move.path, move.target);
    if (written) {
      ++context.report.irqs_moved;
    } else if (written.error().code == std::errc::io_error ||
               written.error().code == std::errc::operation_not_permitted) {
      context.report.irqs_managed.push_back(move.irq);  // kernel/irq/proc.c write_irq_affinity()
    } else {
      context.report.irqs_failed.push_back(written.error().describe());
    }
  }
  context.report.done.push_back(
      fmt::format("moved {} IRQs off CPUs {}", context.report.irqs_moved, format_cpu_list(context.aether)));
  if (!context.report.irqs_managed.empty()) {
    context.report.warnings.push_back(fmt::format(
        "the kernel refused to move IRQs {} (EIO/EPERM: managed, or not movable at all like the legacy timer): "
        "for managed ones boot with isolcpus=managed_irq,domain,{} or reduce the device's queues (ethtool -L)",
        format_cpu_list(context.report.irqs_managed), format_cpu_list(context.aether)));
  }
  for (const std::string& failure : context.report.irqs_failed) context.report.warnings.push_back(failure);
  return {};
}

// Steps 5 to 7.
Result<void> set_masks_and_pages(ApplyContext& context, const std::optional<std::uint64_t>& hugepages) {
  const std::string mask = format_cpu_mask(context.housekeeping, context.cpu_count);
  constexpr const char* default_affinity = "/proc/irq/default_smp_affinity";
  if (const auto current = context.host.read_trimmed(default_affinity)) {
    const auto cpus = parse_cpu_mask(*current);
    if (!cpus || cpu_overlap(*cpus, context.aether)) {
      if (auto changed = context.change_file(default_affinity, mask); !changed) return changed;
      context.report.done.push_back(fmt::format("{} = {}", default_affinity, mask));
    }
  }

  constexpr std::string_view workqueue = "/sys/devices/virtual/workqueue";
  const std::string cpumask = fmt::format("{}/cpumask", workqueue);
  if (const auto current = context.host.read_trimmed(cpumask)) {
    const auto cpus = parse_cpu_mask(*current);
    if (!cpus || cpu_overlap(*cpus, context.aether)) {
      // Restore what was requested, not what the kernel derived from it.
      const auto requested = context.host.read_trimmed(fmt::format("{}/cpumask_requested", workqueue));
      if (auto changed = context.change_file(cpumask, mask, requested.value_or(*current)); !changed) return changed;
      context.report.done.push_back(fmt::format("{} = {}", cpumask, mask));
    }
  }

  if (hugepages) {
    constexpr const char* nr_hugepages = "/proc/sys/vm/nr_hugepages";
    if (auto changed = context.change_file(nr_hugepages, std::to_string(*hugepages)); !changed) return changed;
    const std::string now = context.host.read_trimmed(nr_hugepages).value_or("?");
    context.report.done.push_back(fmt::format("vm.nr_hugepages = {} (asked {})", now, *hugepages));
    if (now != std::to_string(*hugepages)) {
      context.report.warnings.push_back(
          fmt::format("the kernel reserved {} of {} huge pages (memory fragmented: reserve at boot with hugepages=)",
                      now, *hugepages));
    }
  }
  return {};
}

}  // namespace

Result<ApplyReport> apply_partition(HostAccess& host, const ApplyOptions& options) {
  auto kernel = read_kernel_version(host);
  if (!kernel) return std::move(kernel).error();
  auto cpus = read_host_cpus(host.roots().sysfs, host.roots().proc);
  if (!cpus) return std::move(cpus).error();
  if (auto valid = validate_aether_cpus(*cpus, options.aether_cpus, options.allow_smt_split); !valid) {
    return std::move(valid).error();
  }
  ApplyReport report;
  report.aether_cpus = options.aether_cpus;
  report.housekeeping_cpus = cpu_difference(cpus->online, options.aether_cpus);
  report.journal_path = options.journal_path;
  auto journal = Journal::open(options.journal_path, JournalHeader{report.aether_cpus, report.housekeeping_cpus,
                                                                 kernel->release, read_boot_identity(host).boot_id});
  if (!journal) return std::move(journal).error();

  ApplyContext context{
      host, *journal, report, *kernel, report.aether_cpus, report.housekeeping_cpus, cpus->possible.back() + 1};
  // CPUs isolcpus=domain already took out of load balancing need no cpuset
  // partition, and 6.12 refuses one over them ("isolated invalid (partition
  // config conflicts with housekeeping setup)", docs/guest-harness.md).
  const CgroupMounts mounts = find_cgroup_mounts(host);
  const bool boot_isolated = cpu_subset(report.aether_cpus, cpus->isolated);
  const bool cpuset_step = !boot_isolated && ((mounts.v2 && mounts.v2_has_cpuset) || mounts.v1_cpuset);
  if (auto done = detail::apply_knobs(context, options.knobs); !done) return std::move(done).error();
  auto moves = journal_task_affinities(context, cpuset_step);
  if (!moves) return std::move(moves).error();
  if (boot_isolated) {
    report.done.push_back(fmt::format("no cpuset partition: isolcpus= isolates CPUs {} at boot already",
                                      format_cpu_list(report.aether_cpus)));
  } else if (auto done = detail::apply_cpuset(context, mounts); !done) {
    return std::move(done).error();
  }
  restrict_tasks(context, *moves);
  if (auto done = steer_irqs(context); !done) return std::move(done).error();
  if (auto done = set_masks_and_pages(context, options.hugepages); !done) return std::move(done).error();
  if (auto done = journal->mark_complete(); !done) return std::move(done).error();
  return report;
}

std::string format_apply_report(const ApplyReport& report) {
  std::string text = fmt::format("aether partition apply: Aether CPUs {}, housekeeping CPUs {}\n",
                                 format_cpu_list(report.aether_cpus), format_cpu_list(report.housekeeping_cpus));
  for (const std::string& line : report.done) text += fmt::format("  done: {}\n", line);
  if (report.tasks_gone > 0) text += fmt::format("  {} tasks exited meanwhile\n", report.tasks_gone);
  for (const std::string& task : report.tasks_refused) text += fmt::format("  task refused: {}\n", task);
  for (const std::string& line : report.warnings) text += fmt::format("  warning: {}\n", line);
  text += fmt::format("{} previous values journaled in {}; undo with: aether partition revert{}\n",
                      report.changes_journaled, report.journal_path.native(),
                      report.journal_path == default_journal_path
                          ? std::string()
                          : fmt::format(" --journal {}", report.journal_path.native()));
  return text;
}

}  // namespace aether::partition
