// One `aether partition apply` or `revert` at a time per journal, and the
// directory the journal lives in.
//
// Two applies, or an apply and a revert, that interleave would journal each
// other's values as "previous" or undo a change the other is about to
// record. So each takes an exclusive flock(2) on "<journal>.lock" for the
// whole operation; a second one fails at once with an Error naming the lock
// file and the holder's pid (flock locks belong to the open file, so a
// second open in the same process conflicts too, and the kernel drops the
// lock when the holder dies, even by kill -9). The lock file stays: removing
// it while another process has it open would let a third lock a new inode.
//
// Root writes the journal, so its directory must not let anyone else swap
// files in it: created 0700; an existing one must be owned by this user or
// root and not writable by group or others.
#pragma once

#include <filesystem>

#include "aether/core/result.hpp"

namespace aether::partition {

// Creates the missing directories up to `directory` (each 0700) and checks
// the last one (above). The Error names the directory and what is wrong.
Result<void> prepare_journal_directory(const std::filesystem::path& directory);

// An exclusive lock on "<journal>.lock", held while it lives (move-only).
class JournalLock {
 public:
  // Prepares the journal's directory, then locks without waiting. Error
  // (EWOULDBLOCK): another apply or revert holds it; the message names it.
  static Result<JournalLock> acquire(const std::filesystem::path& journal_path);

  JournalLock(JournalLock&& other) noexcept;
  JournalLock& operator=(JournalLock&& other) noexcept;
  JournalLock(const JournalLock&) = delete;
  JournalLock& operator=(const JournalLock&) = delete;
  ~JournalLock();

 private:
  explicit JournalLock(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

// "<journal>.lock".
std::filesystem::path journal_lock_path(const std::filesystem::path& journal_path);

}  // namespace aether::partition
