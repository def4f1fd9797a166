// The apply journal: every value `apply` is about to change, written and
// fsync'ed before the change, so that `revert` restores the previous state
// even after a crash or kill -9 in the middle of `apply`.
//
// Invariants:
//   - A record reaches the disk (write + fsync) before the change it
//     describes is made. A record whose change never happened is harmless:
//     reverting it writes back the value that is still there.
//   - Only the first record for a file, directory or task counts, so running
//     `apply` again (after success or a crash) keeps the ORIGINAL values.
//   - The file is created atomically (temporary file, fsync, rename, fsync of
//     the directory), so it either has its header or does not exist.
//   - A last line without its newline is a record torn by a crash while it
//     was being written; its change was not made yet, so it is ignored.
//   - Every value it holds is kernel state that a reboot resets, so the
//     header names the boot (/proc/sys/kernel/random/boot_id) and the kernel
//     release; a journal of another boot restores nothing (journal_boot_mismatch).
//   - One apply or revert at a time: Journal::open and revert hold an
//     exclusive lock on "<journal>.lock" (journal_lock.hpp) for the whole
//     operation.
//   - Only the files apply writes are restored (journal_targets.hpp).
//   - The journal and its lock are created 0600, O_EXCL|O_NOFOLLOW (the lock
//     O_NOFOLLOW), in a directory made 0700; an existing directory writable by
//     group or others, or owned by another user, is refused.
//
// Format: text, one record per line, fields separated by one space, paths
// and values percent-encoded (bytes <= 0x20, '%' and >= 0x7f), values
// prefixed by '=' so that an empty value still has a field:
//   aether-partition-journal 2
//   cpus =2-3 housekeeping =0-1 kernel =6.1.0-28-amd64 boot =8a4c...-...-...
// (version 1 had no boot field: such a journal's boot is unknown and only
// its kernel release is compared)
//   file /proc/irq/default_smp_affinity =f
//   irq /proc/irq/24/smp_affinity_list =0-3
//   directory /sys/fs/cgroup/aether
//   controller /sys/fs/cgroup/cgroup.subtree_control cpuset
//   affinity 1234 98765 =0-3          (tid, start time in ticks, allowed CPUs)
//   hold /dev/cpu_dma_latency =0      (not a previous value: --partition workers hold it)
//   complete
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/partition/host_access.hpp"
#include "aether/partition/journal_lock.hpp"

namespace aether::partition {

inline constexpr const char* default_journal_path = "/var/lib/aether/partition.journal";

enum class JournalRecordKind {
  file,        // `path` held `previous`; revert writes it back
  irq,         // an IRQ's smp_affinity_list; as `file`, but EIO/EPERM (managed) on revert is not an error
  directory,   // apply created `path`; revert moves its tasks to the parent and removes it
  controller,  // apply enabled controller `previous` in `path` (a cgroup.subtree_control); revert disables it
  affinity,    // task `tid` (started at `start_time`) was allowed on `previous`; revert restores it
  // The partition asks its workers' processes to hold `path` (a PM QoS
  // device, /dev/cpu_dma_latency) at `previous` while they run
  // (runtime/placement.hpp). A request that ends with its holder's file
  // descriptor, not a kernel value apply changed: revert has nothing to undo.
  hold,
};

struct JournalRecord {
  JournalRecordKind kind = JournalRecordKind::file;
  std::string path;
  std::string previous;
  pid_t tid = 0;
  std::uint64_t start_time = 0;

  bool operator==(const JournalRecord&) const = default;
};

struct JournalHeader {
  std::vector<unsigned> aether_cpus;
  std::vector<unsigned> housekeeping_cpus;
  std::string kernel_release;
  std::string boot_id;  // /proc/sys/kernel/random/boot_id at apply; empty: unknown
};

// The running boot, as a journal header names it.
struct BootIdentity {
  std::string boot_id;  // empty if unreadable
  std::string kernel_release;
};

// /proc/sys/kernel/random/boot_id (a random UUID the kernel makes at each
// boot, random(4)) and /proc/sys/kernel/osrelease, through `host`.
BootIdentity read_boot_identity(const HostAccess& host);

// Why a journal with `header` is not of the running boot, e.g. "written in
// boot 8a4c... (kernel 6.1.0-28-amd64), this is boot 17f0... (kernel
// 6.12.9-amd64)"; std::nullopt when it is (a field empty on either side is
// not compared).
std::optional<std::string> journal_boot_mismatch(const JournalHeader& header, const BootIdentity& running);

struct JournalContents {
  JournalHeader header;
  std::vector<JournalRecord> records;
  bool complete = false;   // the last marker is "complete" (apply finished)
  bool torn_tail = false;  // a partial last line was ignored
};

// Parses journal text. Errors name the line.
Result<JournalContents> parse_journal(std::string_view text);

// Reads `path`; std::nullopt if it does not exist.
Result<std::optional<JournalContents>> read_journal(const std::filesystem::path& path);

// An append-only journal file, owned (move-only; closes the file).
class Journal {
 public:
  // Takes the journal's lock (held until the Journal is destroyed; an Error
  // if another apply or revert holds it), then opens the journal at `path`,
  // creating it (and its directory) with `header` if it does not exist. An
  // existing journal must be of the same boot and for the same Aether CPUs
  // (else an Error says to revert first); its records are loaded so that
  // known paths and tasks are not recorded again.
  static Result<Journal> open(const std::filesystem::path& path, const JournalHeader& header);

  Journal(Journal&& other) noexcept;
  Journal& operator=(Journal&& other) noexcept;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal();

  // Appends the records not yet known (see knows()) and fsyncs once.
  // Returns only after they are on disk.
  Result<void> record(std::span<const JournalRecord> records);
  Result<void> record(const JournalRecord& one) { return record(std::span<const JournalRecord>(&one, 1)); }
  Result<void> mark_complete();

  // A record for the same kind and target (path, or tid + start time) exists.
  [[nodiscard]] bool knows(const JournalRecord& record) const;
  // `path` is a directory this journal created, or lies below one.
  [[nodiscard]] bool inside_created_directory(std::string_view path) const;
  [[nodiscard]] const JournalContents& contents() const noexcept { return contents_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  Journal(JournalLock lock, std::filesystem::path path, int fd, JournalContents contents);
  Result<void> append(const std::string& text);

  JournalLock lock_;
  std::filesystem::path path_;
  int fd_ = -1;
  JournalContents contents_;
};

// Removes the journal after a complete revert, durably (unlink + fsync of
// the directory).
Result<void> remove_journal(const std::filesystem::path& path);

// Percent-encoding used by the format (exposed for tests).
std::string journal_escape(std::string_view text);
Result<std::string> journal_unescape(std::string_view text);

}  // namespace aether::partition
