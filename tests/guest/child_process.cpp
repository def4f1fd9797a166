#include "child_process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

extern char** environ;

namespace aether::test {
namespace {

using Clock = std::chrono::steady_clock;

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits until `pid` exits or `deadline` passes. Returns the raw wait status,
// or -1 on deadline (the child is then still running, unreaped).
int wait_until(pid_t pid, Clock::time_point deadline) {
  // A pidfd (Linux >= 5.3) becomes readable when the child exits, so we
  // sleep in poll() instead of waking up periodically; without it, poll
  // waitpid every 20 ms.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  int status = 0;
  for (;;) {
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid) break;
    if (reaped < 0 && errno != EINTR) {
      status = -1;
      break;
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      status = -1;
      break;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (pidfd >= 0) {
      pollfd ready{pidfd, POLLIN, 0};
      (void)::poll(&ready, 1, static_cast<int>(std::min<long long>(left.count() + 1, 60'000)));
    } else {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(20)));
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return status;
}

// Waits for the child until the deadline; then kills its whole group.
ProcessOutcome wait_for_child(pid_t pid, Clock::time_point started, std::chrono::milliseconds timeout) {
  ProcessOutcome outcome;
  int status = wait_until(pid, started + timeout);
  if (status == -1) {
    // Kill the group while its leader is still unreaped, so the group id
    // cannot have been reused by an unrelated process.
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    outcome.timed_out = true;
  } else {
    outcome.exit_status = decode_wait_status(status);
  }
  outcome.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return outcome;
}

// posix_spawn cannot enter a namespace: fork, setns, exec. Between fork
// and exec the child makes only async-signal-safe calls (the parent may
// have other threads), and reports a failure by its exit status: 126 for a
// file or namespace that could not be entered, 127 for exec.
Result<pid_t> fork_in_namespace(const std::vector<std::string>& argv, const std::string& stdout_path,
                                const std::string& stderr_path, int network_namespace_fd) {
  if (argv[0].empty() || argv[0][0] != '/') {
    return invalid_argument(fmt::format("run_process: {} must be an absolute path to run in a namespace", argv[0]));
  }
  std::vector<char*> arguments;
  arguments.reserve(argv.size() + 1);
  for (const auto& argument : argv) arguments.push_back(const_cast<char*>(argument.c_str()));
  arguments.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return errno_error(fmt::format("cannot fork to start {}", argv[0]));
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group, as with POSIX_SPAWN_SETPGROUP
    sigset_t no_signals;
    sigemptyset(&no_signals);
    ::sigprocmask(SIG_SETMASK, &no_signals, nullptr);
    for (const int signal : {SIGPIPE, SIGINT, SIGTERM}) ::signal(signal, SIG_DFL);
    const int input = ::open("/dev/null", O_RDONLY);
    const int output = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int error = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (input < 0 || output < 0 || error < 0 || ::dup2(input, STDIN_FILENO) < 0 ||
        ::dup2(output, STDOUT_FILENO) < 0 || ::dup2(error, STDERR_FILENO) < 0 ||
        ::setns(network_namespace_fd, CLONE_NEWNET) != 0) {
      ::_exit(126);
    }
    ::execv(arguments[0], arguments.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from here, so the group exists before we may kill it
  return pid;
}

}  // namespace

Result<ProcessOutcome> run_process(const std::vector<std::string>& argv, const std::string& stdout_path,
                                   const std::string& stderr_path, std::chrono::milliseconds timeout,
                                   int network_namespace_fd) {
  if (argv.empty()) return invalid_argument("run_process: empty command");
  if (network_namespace_fd >= 0) {
    const auto started = Clock::now();
    auto pid = fork_in_namespace(argv, stdout_path, stderr_path, network_namespace_fd);
    if (!pid) return std::move(pid).error();
    return wait_for_child(*pid, started, timeout);
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // Process group id 0: the child leads a new group, so that kill(-pid)
  // reaches it and everything it starts.
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attributes, 0);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  sigset_t default_signals;
  sigemptyset(&default_signals);
  sigaddset(&default_signals, SIGPIPE);
  sigaddset(&default_signals, SIGINT);
  sigaddset(&default_signals, SIGTERM);
  posix_spawnattr_setsigdefault(&attributes, &default_signals);

  std::vector<char*> arguments;
  arguments.reserve(argv.size() + 1);
  for (const auto& argument : argv) arguments.push_back(const_cast<char*>(argument.c_str()));
  arguments.push_back(nullptr);

  const auto started = Clock::now();
  pid_t pid = -1;
  const int spawn_error = ::posix_spawnp(&pid, argv[0].c_str(), &actions, &attributes, arguments.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawn_error != 0) {
    return errno_error(fmt::format("cannot start {} (output to {})", argv[0], stdout_path), spawn_error);
  }

  return wait_for_child(pid, started, timeout);
}

Result<TemporaryDirectory> TemporaryDirectory::create(const std::string& prefix) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern = fmt::format("{}/{}XXXXXX", tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp", prefix);
  if (::mkdtemp(pattern.data()) == nullptr) return errno_error(fmt::format("cannot create directory {}", pattern));
  return TemporaryDirectory(std::move(pattern));
}

TemporaryDirectory::TemporaryDirectory(TemporaryDirectory&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

TemporaryDirectory& TemporaryDirectory::operator=(TemporaryDirectory&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TemporaryDirectory::~TemporaryDirectory() { remove(); }

void TemporaryDirectory::remove() noexcept {
  if (path_.empty()) return;
  std::error_code ignored;  // best effort: a leftover temp dir is not worth failing a test for
  std::filesystem::remove_all(path_, ignored);
  path_.clear();
}

std::string read_text_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string last_lines(const std::string& text, std::size_t count) {
  std::size_t start = text.size();
  // Skip a final newline so that it does not count as an empty last line.
  if (start > 0 && text[start - 1] == '\n') --start;
  while (count > 0 && start > 0) {
    const auto newline = text.rfind('\n', start - 1);
    if (newline == std::string::npos) {
      start = 0;
      break;
    }
    start = newline;
    --count;
  }
  if (start < text.size() && text[start] == '\n') ++start;
  return text.substr(start);
}

}  // namespace aether::test
