// The partition module's only door to the kernel's files and to task
// affinities. Everything goes through a HostAccess so that status, apply and
// revert run unchanged against the real /sys and /proc or against a fake tree
// in a test directory. Control path only.
//
// Paths are written as the kernel names them ("logical" paths such as
// "/proc/irq/5/smp_affinity_list" or "/sys/fs/cgroup/cpuset"): that is what
// the journal records and what messages quote. HostRoots maps a logical path
// to the file actually opened: "/sys/..." under `sysfs`, "/proc/..." under
// `proc`, anything else unchanged.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"

namespace aether::partition {

struct HostRoots {
  std::filesystem::path sysfs = "/sys";
  std::filesystem::path proc = "/proc";

  // The file to open for `logical` (see above).
  [[nodiscard]] std::filesystem::path map(std::string_view logical) const;
};

class HostAccess {
 public:
  explicit HostAccess(HostRoots roots = {});
  virtual ~HostAccess() = default;
  HostAccess(const HostAccess&) = delete;
  HostAccess& operator=(const HostAccess&) = delete;

  [[nodiscard]] const HostRoots& roots() const noexcept { return roots_; }
  [[nodiscard]] std::filesystem::path map(std::string_view logical) const { return roots_.map(logical); }

  // The whole file, std::nullopt if it does not exist; other failures are an
  // Error naming the logical path.
  Result<std::optional<std::string>> read(std::string_view logical) const;
  // The file's content without surrounding whitespace; std::nullopt if it does
  // not exist or cannot be read (status reports what it can see).
  std::optional<std::string> read_trimmed(std::string_view logical) const;
  // Names in a directory (not "." / ".."), sorted; empty if it does not exist.
  std::vector<std::string> list_directory(std::string_view logical) const;
  bool is_directory(std::string_view logical) const;
  bool exists(std::string_view logical) const;

  // Writes `value` and a newline with a single write(2) on an
  // O_WRONLY|O_TRUNC descriptor, as `echo value > file` does: sysfs and
  // procfs attributes take one value per write and ignore the newline, which
  // also makes an empty value a one-byte write the kernel sees (an empty
  // cpuset.cpus). Never creates the file. The Error keeps the errno (EIO/EPERM
  // for a managed IRQ, EINVAL for a value the kernel rejects) and quotes the
  // path and the value. write, make_directory and remove_directory refuse
  // (EINVAL) a path with a ".." component or a NUL byte: it could name a
  // file outside the tree it seems to be in.
  virtual Result<void> write(std::string_view logical, std::string_view value);
  // mkdir; returns false if the directory already existed.
  virtual Result<bool> make_directory(std::string_view logical);
  // rmdir; a missing directory is not an error.
  virtual Result<void> remove_directory(std::string_view logical);
  // sched_setaffinity(tid, cpus). The real one returns the errno (ESRCH: the
  // task is gone; EINVAL: a per-CPU kthread or a cpuset without these CPUs),
  // and refuses (EPERM) unless the proc root is "/proc": the TIDs of a fake
  // tree would name real tasks of this machine.
  virtual Result<void> set_task_affinity(pid_t tid, std::span<const unsigned> cpus);

 private:
  HostRoots roots_;
};

// The whole file at `path` (read to EOF: sysfs sizes say nothing);
// std::nullopt if it does not exist. Errors name the file as `name`.
Result<std::optional<std::string>> read_whole_file(const std::filesystem::path& path, std::string_view name);

// `text` without leading and trailing blanks and newlines.
std::string_view trim_blanks(std::string_view text) noexcept;

}  // namespace aether::partition
