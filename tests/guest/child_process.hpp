// A child process with a deadline, for the guest harness.
//
// The guest runs as scripts/guest/run -> timeout -> qemu-system-x86_64. To
// stop all of them at once on a timeout, the child starts its own process
// group and the whole group is killed; killing only the shell would leave
// QEMU running.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "aether/core/result.hpp"

namespace aether::test {

struct ProcessOutcome {
  // Exit status, or 128 + signal number if the child was killed by a signal
  // (the shell convention). Meaningless when timed_out.
  int exit_status = -1;
  bool timed_out = false;
  std::chrono::milliseconds elapsed{0};
};

// Runs argv (argv[0] looked up in PATH when it has no '/') with stdin from
// /dev/null and stdout/stderr written to the given files, in a new process
// group. When `timeout` passes first, sends SIGKILL to the whole group.
// Errors: a file cannot be opened, or the program cannot be started.
// `network_namespace_fd` >= 0: the child enters that network namespace
// (setns) before exec; argv[0] must then be an absolute path.
[[nodiscard]] Result<ProcessOutcome> run_process(const std::vector<std::string>& argv,
                                                 const std::string& stdout_path,
                                                 const std::string& stderr_path,
                                                 std::chrono::milliseconds timeout,
                                                 int network_namespace_fd = -1);

// A directory under $TMPDIR (or /tmp) removed with its contents on
// destruction. Move-only.
class TemporaryDirectory {
 public:
  // prefix: the directory's name starts with it, e.g. "aether-guest-".
  [[nodiscard]] static Result<TemporaryDirectory> create(const std::string& prefix);

  TemporaryDirectory(TemporaryDirectory&& other) noexcept;
  TemporaryDirectory& operator=(TemporaryDirectory&& other) noexcept;
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  ~TemporaryDirectory();

  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  explicit TemporaryDirectory(std::string path) : path_(std::move(path)) {}
  void remove() noexcept;
  std::string path_;
};

// The whole file as text; an empty string if it cannot be read.
[[nodiscard]] std::string read_text_file(const std::string& path);

// The last `count` lines of `text`, for error messages.
[[nodiscard]] std::string last_lines(const std::string& text, std::size_t count);

}  // namespace aether::test
