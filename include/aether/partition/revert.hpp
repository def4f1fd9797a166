// `aether partition revert`: undo an apply from its journal, newest change
// first.
//
// Per record (journal.hpp): a file gets its previous value back; an IRQ too,
// except that EIO/EPERM (managed, never changed) and a vanished IRQ are
// skipped; a directory apply created has its tasks moved to the parent
// cgroup (`tasks` in v1, `cgroup.procs` in v2) and is removed; a controller
// apply enabled is disabled ("-cpuset"); a task that still exists (same TID
// and start time) gets its previous affinity. Tasks that exited are skipped.
//
// Before anything is undone: the journal's lock is taken (journal_lock.hpp;
// an Error if an apply or revert holds it); a journal of another boot
// (journal_boot_mismatch) restores nothing and is removed; a journal naming
// anything apply does not write (journal_targets.hpp) is an Error and
// restores nothing.
//
// The journal is removed only when nothing failed; otherwise it stays, and
// running revert again retries (every step is idempotent).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/partition/host_access.hpp"

namespace aether::partition {

struct RevertReport {
  std::filesystem::path journal_path;
  bool journal_found = false;
  bool journal_removed = false;
  unsigned restored = 0;              // records undone
  unsigned skipped = 0;               // nothing to undo: task gone, IRQ managed or gone, file gone
  std::vector<std::string> warnings;  // not restorable, but no reason to keep the journal
  std::vector<std::string> failures;  // not restored; the journal is kept
  std::optional<std::string> other_boot;  // the journal is from another boot (why); nothing was restored
};

// An Error only when the journal cannot be read; an absent journal is a
// report with journal_found = false (nothing to revert).
Result<RevertReport> revert_partition(HostAccess& host, const std::filesystem::path& journal_path);

std::string format_revert_report(const RevertReport& report);

}  // namespace aether::partition
