// A cpuset cgroup a test makes for itself under the cgroup v1 cpuset
// hierarchy (never the host's own cpusets), and processes it puts there.
// Removed, with every task moved back to the root cpuset first, when the
// owner goes. Needs root and a v1 cpuset mount with at least two CPUs.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace aether::test {

inline constexpr const char* v1_cpuset_root = "/sys/fs/cgroup/cpuset";

inline std::string read_trimmed_file(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  std::string value = text.str();
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

inline bool write_file(const std::filesystem::path& path, const std::string& value) {
  std::ofstream file(path);
  file << value << '\n';
  file.flush();
  return static_cast<bool>(file);
}

// Why a test-made v1 cpuset cannot be used here, or nullopt when it can.
inline std::optional<std::string> v1_cpuset_unusable() {
  if (::geteuid() != 0) return "needs root (makes a cpuset cgroup)";
  if (!std::filesystem::exists(std::filesystem::path(v1_cpuset_root) / "tasks")) {
    return "no cgroup v1 cpuset hierarchy at /sys/fs/cgroup/cpuset";
  }
  const std::string cpus = read_trimmed_file(std::filesystem::path(v1_cpuset_root) / "cpuset.effective_cpus");
  if (cpus.find_first_of(",-") == std::string::npos) return "the root cpuset has one CPU (" + cpus + ")";
  return std::nullopt;
}

class TestCpuset {
 public:
  // <root>/aether-fluid-test-<pid>-<name>, holding `cpus` and the root's memory nodes.
  TestCpuset(const std::string& name, const std::string& cpus)
      : path_(std::filesystem::path(v1_cpuset_root) / ("aether-fluid-test-" + std::to_string(::getpid()) + "-" + name)) {
    std::filesystem::create_directory(path_);
    write_file(path_ / "cpuset.mems", read_trimmed_file(std::filesystem::path(v1_cpuset_root) / "cpuset.mems"));
    write_file(path_ / "cpuset.cpus", cpus);
  }
  ~TestCpuset() { remove(); }
  TestCpuset(const TestCpuset&) = delete;
  TestCpuset& operator=(const TestCpuset&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::string cpus() const { return read_trimmed_file(path_ / "cpuset.cpus"); }

  // A child process in this cpuset: one thread spins 1 ms and sleeps 1 ms
  // (runnable often, without taking a whole shared CPU), until killed.
  pid_t start_child() {
    const pid_t pid = ::fork();
    if (pid == 0) {
      for (;;) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
        while (std::chrono::steady_clock::now() < until) {
        }
        ::usleep(1000);
      }
    }
    write_file(path_ / "cgroup.procs", std::to_string(pid));
    children_.push_back(pid);
    return pid;
  }

  void stop_children() {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    children_.clear();
  }

  // Moves whatever is left to the root cpuset and removes the directory.
  void remove() {
    stop_children();
    std::error_code ignored;
    if (!std::filesystem::exists(path_, ignored)) return;
    std::ifstream tasks(path_ / "tasks");
    for (std::string tid; std::getline(tasks, tid);) {
      write_file(std::filesystem::path(v1_cpuset_root) / "tasks", tid);
    }
    for (int attempt = 0; attempt < 50 && ::rmdir(path_.c_str()) != 0; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a killed task leaves asynchronously
    }
  }

 private:
  std::filesystem::path path_;
  std::vector<pid_t> children_;
};

}  // namespace aether::test
