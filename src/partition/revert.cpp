// `aether partition revert`: undo the journaled changes, newest first.
#include "aether/partition/revert.hpp"

#include <cerrno>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/journal.hpp"
#include "aether/partition/journal_lock.hpp"
#include "aether/partition/journal_targets.hpp"
#include "aether/partition/tasks.hpp"

namespace aether::partition {
namespace {

bool is(const Error& error, std::errc code) { return error.code == code; }

// Moves every task of cgroup `directory` to its parent: per thread through
// `tasks` in v1, per process through `cgroup.procs` in v2 (v2 has no `tasks`).
void empty_cgroup(HostAccess& host, const std::string& directory, RevertReport& report) {
  const std::string parent = directory.substr(0, directory.rfind('/'));
  const char* file = host.exists(directory + "/tasks") ? "tasks" : "cgroup.procs";
  for (pid_t id : read_cgroup_members(host, fmt::format("{}/{}", directory, file))) {
    auto moved = host.write(fmt::format("{}/{}", parent, file), std::to_string(id));
    if (!moved && !is(moved.error(), std::errc::no_such_process)) {
      report.warnings.push_back(fmt::format("task {} stays in {}: {}", id, directory, moved.error().describe()));
    }
  }
}

void undo(HostAccess& host, const JournalRecord& record, RevertReport& report) {
  switch (record.kind) {
    case JournalRecordKind::file:
    case JournalRecordKind::irq: {
      auto written = host.write(record.path, record.previous);
      if (written) {
        ++report.restored;
      } else if (is(written.error(), std::errc::no_such_file_or_directory) ||
                 (record.kind == JournalRecordKind::irq && (is(written.error(), std::errc::io_error) ||
                                                            is(written.error(), std::errc::operation_not_permitted)))) {
        ++report.skipped;  // gone, or a managed IRQ that apply could not change either
      } else {
        report.failures.push_back(written.error().describe());
      }
      return;
    }
    case JournalRecordKind::directory: {
      if (!host.is_directory(record.path)) {
        ++report.skipped;
        return;
      }
      empty_cgroup(host, record.path, report);
      // A v2 partition is dissolved when the cgroup goes offline, which the
      // kernel does asynchronously after rmdir (css_killed_work_fn), and that
      // resets the affinity of the parent's tasks, after the affinities below
      // were restored. Writing "member" first does it now (cgroup-v2.rst:
      // "member" turns a partition root back into a member).
      const std::string partition = record.path + "/cpuset.cpus.partition";
      if (host.exists(partition)) (void)host.write(partition, "member");
      if (auto removed = host.remove_directory(record.path); removed) {
        ++report.restored;
      } else {
        report.failures.push_back(removed.error().describe());
      }
      return;
    }
    case JournalRecordKind::controller: {
      auto written = host.write(record.path, "-" + record.previous);
      if (written) {
        ++report.restored;
      } else {
        report.failures.push_back(written.error().describe());
      }
      return;
    }
    case JournalRecordKind::hold:
      // A request held by running processes' file descriptors; it ends with
      // them (or with the journal, which --partition reads at start).
      return;
    case JournalRecordKind::affinity: {
      const auto task = read_task(host, record.tid);
      if (!task || task->start_time != record.start_time) {
        ++report.skipped;  // exited (its TID may belong to another task now)
        return;
      }
      auto cpus = parse_cpu_list(record.previous);
      if (!cpus) {
        report.failures.push_back(fmt::format("journal affinity of task {}: {}", record.tid, cpus.error().message));
        return;
      }
      auto set = host.set_task_affinity(record.tid, *cpus);
      if (set) {
        ++report.restored;
      } else if (is(set.error(), std::errc::no_such_process)) {
        ++report.skipped;
      } else {
        // E.g. its cpuset no longer has those CPUs: nothing a retry would fix.
        report.warnings.push_back(fmt::format("task {}[{}] keeps its current CPUs, not {}: {}", task->name, record.tid,
                                              record.previous, set.error().describe()));
      }
      return;
    }
  }
}

}  // namespace

Result<RevertReport> revert_partition(HostAccess& host, const std::filesystem::path& journal_path) {
  RevertReport report;
  report.journal_path = journal_path;
  auto contents = read_journal(journal_path);
  if (!contents) return std::move(contents).error();
  if (!*contents) return report;  // nothing to do, nothing to lock
  // Read again under the lock: an apply may have been adding to it.
  auto lock = JournalLock::acquire(journal_path);
  if (!lock) return std::move(lock).error();
  contents = read_journal(journal_path);
  if (!contents) return std::move(contents).error();
  if (!*contents) return report;
  report.journal_found = true;

  // A reboot reset every value the journal holds, and what it names may be
  // someone else's now (an IRQ number, a TID, a cgroup): restore nothing.
  if (auto other_boot = journal_boot_mismatch((*contents)->header, read_boot_identity(host))) {
    report.other_boot = std::move(*other_boot);
    if (auto removed = remove_journal(journal_path); !removed) {
      report.failures.push_back(removed.error().describe());
    } else {
      report.journal_removed = true;
    }
    return report;
  }
  const CgroupMounts mounts = find_cgroup_mounts(host);
  for (const JournalRecord& record : (*contents)->records) {
    if (auto allowed = check_journal_target(record, mounts); !allowed) {
      return invalid_argument(fmt::format("journal {}: {}; nothing restored: apply never writes there, so the "
                                          "journal is not (only) apply's: inspect it and remove it by hand",
                                          journal_path.native(), allowed.error().message));
    }
  }
  const auto& records = (*contents)->records;
  for (auto record = records.rbegin(); record != records.rend(); ++record) undo(host, *record, report);
  if (report.failures.empty()) {
    if (auto removed = remove_journal(journal_path); !removed) {
      report.failures.push_back(removed.error().describe());
    } else {
      report.journal_removed = true;
    }
  }
  return report;
}

std::string format_revert_report(const RevertReport& report) {
  if (!report.journal_found) {
    return fmt::format("aether partition revert: no journal at {}: nothing to revert\n", report.journal_path.native());
  }
  if (report.other_boot) {
    return fmt::format("aether partition revert: journal {} is from another boot ({}): the reboot reset every value "
                       "it holds, nothing restored\n{}",
                       report.journal_path.native(), *report.other_boot,
                       report.journal_removed ? fmt::format("journal {} removed\n", report.journal_path.native())
                                              : fmt::format("journal {} kept: {}\n", report.journal_path.native(),
                                                            fmt::join(report.failures, "; ")));
  }
  std::string text = fmt::format("aether partition revert: {} changes undone, {} needed no undoing\n", report.restored,
                                 report.skipped);
  for (const std::string& line : report.warnings) text += fmt::format("  warning: {}\n", line);
  for (const std::string& line : report.failures) text += fmt::format("  FAILED: {}\n", line);
  text += report.journal_removed ? fmt::format("journal {} removed\n", report.journal_path.native())
                                 : fmt::format("journal {} kept: run revert again after fixing the failures\n",
                                               report.journal_path.native());
  return text;
}

}  // namespace aether::partition
