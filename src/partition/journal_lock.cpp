// The journal's lock and directory (see journal_lock.hpp).
#include "aether/partition/journal_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace aether::partition {
namespace {

namespace fs = std::filesystem;

// The pid a holder wrote into the lock file, for the message; 0 if none.
long holder_pid(int fd) {
  char text[32] = {};
  const ssize_t got = ::pread(fd, text, sizeof text - 1, 0);
  long pid = 0;
  if (got > 0) std::from_chars(text, text + got, pid);
  return pid;
}

}  // namespace

fs::path journal_lock_path(const fs::path& journal_path) { return fs::path(journal_path).concat(".lock"); }

Result<void> prepare_journal_directory(const fs::path& directory) {
  // Missing components are made 0700, top down; an existing one is left as it is.
  fs::path partial;
  for (const fs::path& component : directory) {
    partial /= component;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return errno_error(fmt::format("cannot create directory {} (for the partition journal)", partial.native()));
    }
  }
  struct stat status {};
  if (::stat(directory.c_str(), &status) != 0) {
    return errno_error(fmt::format("cannot stat the journal directory {}", directory.native()));
  }
  if (!S_ISDIR(status.st_mode)) {
    return errno_error(fmt::format("the journal directory {} is not a directory", directory.native()), ENOTDIR);
  }
  if (status.st_uid != ::geteuid() && status.st_uid != 0) {
    return errno_error(fmt::format("the journal directory {} belongs to uid {}, not to this user or root: "
                                   "another user could replace the journal; choose another --journal",
                                   directory.native(), status.st_uid),
                       EPERM);
  }
  if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return errno_error(fmt::format("the journal directory {} is writable by group or others (mode {:o}): another "
                                   "user could replace the journal; `chmod go-w {}` or choose another --journal",
                                   directory.native(), status.st_mode & 07777, directory.native()),
                       EPERM);
  }
  return {};
}

Result<JournalLock> JournalLock::acquire(const fs::path& journal_path) {
  const fs::path directory = journal_path.has_parent_path() ? journal_path.parent_path() : fs::path(".");
  if (auto prepared = prepare_journal_directory(directory); !prepared) return std::move(prepared).error();
  const fs::path path = journal_lock_path(journal_path);
  // O_NOFOLLOW: a symbolic link planted here must not make root create or
  // truncate its target.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno_error(fmt::format("cannot open the journal lock {}", path.native()));
  JournalLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int saved_errno = errno;
    if (saved_errno != EWOULDBLOCK) return errno_error(fmt::format("cannot lock {}", path.native()), saved_errno);
    const long pid = holder_pid(fd);
    return errno_error(
        fmt::format("journal {} is in use by another `aether partition apply` or `revert`{} (it holds {}): wait "
                    "for it to finish, then run this again",
                    journal_path.native(), pid > 0 ? fmt::format(" (pid {})", pid) : std::string(), path.native()),
        saved_errno);
  }
  // Who holds it, for the message of the next one.
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return errno_error(fmt::format("cannot write the journal lock {}", path.native()));
  }
  return lock;
}

JournalLock::JournalLock(JournalLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

JournalLock& JournalLock::operator=(JournalLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

JournalLock::~JournalLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace aether::partition
