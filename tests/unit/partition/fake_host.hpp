// A writable copy of a fake sysfs/procfs tree (tests/data/partition/<name>)
// and a HostAccess over it that plays the kernel's part where plain files
// cannot: cgroup directories come with their interface files, writing an id
// to `tasks`/`cgroup.procs` moves it (and in cgroup v1 resets its affinity to
// the cpuset's CPUs, as cpuset_attach() does), subtree_control takes
// "+name"/"-name", sched_setaffinity rewrites Cpus_allowed_list, managed IRQs
// refuse with EIO. It can also "crash" (throw) after a given number of
// changes, to test revert after an apply killed midway.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/host_access.hpp"
#include "aether/partition/tasks.hpp"

namespace aether::partition::test {

namespace fs = std::filesystem;

inline const fs::path data_root = fs::path(AETHER_TEST_DATA_DIR) / "partition";

// A read-only view of tests/data/partition/<name>.
inline HostAccess tree_host(const char* name) {
  return HostAccess(HostRoots{data_root / name / "sys", data_root / name / "proc"});
}

inline std::string read_file(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

inline void write_file(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// A temporary directory removed at the end of the test.
class TempDirectory {
 public:
  TempDirectory() {
    // tmpfs where there is one: the journal fsyncs every record, which costs
    // milliseconds on a disk and nothing in memory.
    std::error_code error;
    const fs::path base = fs::is_directory("/dev/shm", error) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string pattern = (base / "aether-partition-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  ~TempDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Every file (relative path -> content) and directory below `root`.
struct TreeSnapshot {
  std::map<std::string, std::string> files;
  std::set<std::string> directories;
  bool operator==(const TreeSnapshot&) const = default;
};

inline TreeSnapshot snapshot(const fs::path& root) {
  TreeSnapshot tree;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string relative = fs::relative(entry.path(), root).string();
    if (entry.is_directory()) {
      tree.directories.insert(relative);
    } else {
      tree.files[relative] = read_file(entry.path());
    }
  }
  return tree;
}

// Differences, for a readable failure message.
inline std::string describe_differences(const TreeSnapshot& before, const TreeSnapshot& after) {
  std::string text;
  for (const auto& [path, content] : before.files) {
    auto it = after.files.find(path);
    if (it == after.files.end()) {
      text += "missing " + path + "\n";
    } else if (it->second != content) {
      text += "changed " + path + ": \"" + content + "\" -> \"" + it->second + "\"\n";
    }
  }
  for (const auto& [path, content] : after.files) {
    if (!before.files.contains(path)) text += "new file " + path + "\n";
  }
  for (const auto& directory : after.directories) {
    if (!before.directories.contains(directory)) text += "new directory " + directory + "\n";
  }
  for (const auto& directory : before.directories) {
    if (!after.directories.contains(directory)) text += "missing directory " + directory + "\n";
  }
  return text;
}

struct Crash {};  // thrown to simulate kill -9

class FakeHost : public HostAccess {
 public:
  // Copies tests/data/partition/<tree> into `scratch`/host and serves it.
  FakeHost(const std::string& tree, const fs::path& scratch)
      : HostAccess(HostRoots{scratch / "host" / "sys", scratch / "host" / "proc"}), root_(scratch / "host") {
    fs::copy(data_root / tree, root_, fs::copy_options::recursive);
  }

  const fs::path& root() const { return root_; }
  // After this many more changes, the next one throws Crash. -1: never.
  void crash_after(int changes) { budget_ = changes; }
  void add_managed_irq(unsigned irq) { managed_irqs_.insert(irq); }
  int changes() const { return changes_; }

  Result<void> write(std::string_view logical, std::string_view value) override {
    count_change();
    const fs::path path = map(logical);
    const std::string name = path.filename().string();
    if (name == "smp_affinity_list") {
      const unsigned irq = static_cast<unsigned>(std::stoul(path.parent_path().filename().string()));
      if (managed_irqs_.contains(irq)) return errno_error("managed IRQ", EIO);
    }
    if (!fs::exists(path)) return errno_error(std::string(logical), ENOENT);
    if (name == "tasks" || name == "cgroup.procs") return move_task(path, value);
    if (name == "cgroup.subtree_control") return edit_controllers(path, value);
    write_file(path, std::string(value) + "\n");
    if (logical == "/proc/sys/vm/nr_hugepages") {  // the default huge page size's pool
      write_file(root_ / "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", std::string(value) + "\n");
      write_file(root_ / "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", std::string(value) + "\n");
    }
    if (name == "cpuset.cpus" && fs::exists(path.parent_path() / "cpuset.cpus.effective")) {
      write_file(path.parent_path() / "cpuset.cpus.effective", std::string(value) + "\n");
    }
    return {};
  }

  Result<bool> make_directory(std::string_view logical) override {
    count_change();
    const fs::path path = map(logical);
    if (fs::exists(path)) return false;
    fs::create_directory(path);
    const fs::path parent = path.parent_path();
    if (fs::exists(parent / "tasks")) {  // cgroup v1 cpuset
      for (const char* file : {"cpuset.cpus", "cpuset.mems"}) write_file(path / file, "\n");
      write_file(path / "cpuset.cpu_exclusive", "0\n");
      write_file(path / "cpuset.sched_load_balance", "1\n");
      write_file(path / "tasks", "");
      write_file(path / "cgroup.procs", "");
    } else {  // cgroup v2
      write_file(path / "cgroup.procs", "");
      write_file(path / "cpuset.cpus", "\n");
      write_file(path / "cpuset.cpus.effective", read_file(parent / "cpuset.cpus.effective"));
      write_file(path / "cpuset.cpus.partition", "member\n");
    }
    return true;
  }

  Result<void> remove_directory(std::string_view logical) override {
    count_change();
    const fs::path path = map(logical);
    if (!fs::exists(path)) return {};
    for (const char* members : {"tasks", "cgroup.procs"}) {
      if (fs::exists(path / members) && !read_file(path / members).empty()) return errno_error("busy", EBUSY);
    }
    fs::remove_all(path);
    return {};
  }

  Result<void> set_task_affinity(pid_t tid, std::span<const unsigned> cpus) override {
    count_change();
    const fs::path status = find_task(tid);
    if (status.empty()) return errno_error("no task", ESRCH);
    if (pinned_by_kernel(status)) return errno_error("per-CPU kthread", EINVAL);
    set_allowed(status, format_cpu_list(std::vector<unsigned>(cpus.begin(), cpus.end())));
    return {};
  }

 private:
  void count_change() {
    ++changes_;
    if (budget_ == 0) throw Crash{};
    if (budget_ > 0) --budget_;
  }

  fs::path find_task(pid_t tid) const {
    const fs::path direct = root_ / "proc" / std::to_string(tid) / "task" / std::to_string(tid) / "status";
    if (fs::exists(direct)) return direct;
    for (const auto& process : fs::directory_iterator(root_ / "proc")) {
      const fs::path candidate = process.path() / "task" / std::to_string(tid) / "status";
      if (fs::exists(candidate)) return candidate;
    }
    return {};
  }

  // PF_NO_SETAFFINITY: the kernel refuses to move it (EINVAL).
  static bool pinned_by_kernel(const fs::path& status) {
    std::uint64_t flags = 0, start_time = 0;
    return parse_task_stat(read_file(status.parent_path() / "stat"), flags, start_time) &&
           (flags & task_flag_no_setaffinity) != 0;
  }

  static void set_allowed(const fs::path& status, const std::string& cpus) {
    std::istringstream lines(read_file(status));
    std::string line, text;
    while (std::getline(lines, line)) {
      if (line.starts_with("Cpus_allowed_list:")) line = "Cpus_allowed_list:\t" + cpus;
      text += line + "\n";
    }
    write_file(status, text);
  }

  static std::set<long> ids_in(const fs::path& path) {
    std::set<long> ids;
    std::istringstream lines(read_file(path));
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty()) ids.insert(std::stol(line));
    }
    return ids;
  }

  static void write_ids(const fs::path& path, const std::set<long>& ids) {
    std::string text;
    for (long id : ids) text += std::to_string(id) + "\n";
    write_file(path, text);
  }

  // Writing an id to a cgroup's member file moves it there from its current
  // cgroup in the same hierarchy.
  Result<void> move_task(const fs::path& path, std::string_view value) {
    long id = 0;
    std::from_chars(value.data(), value.data() + value.size(), id);
    const std::string name = path.filename().string();
    const fs::path status = find_task(static_cast<pid_t>(id));
    if (status.empty()) return errno_error("no task", ESRCH);
    const bool v1 = name == "tasks";
    if (v1 && pinned_by_kernel(status)) return errno_error("per-CPU kthread", EINVAL);
    fs::path hierarchy = path.parent_path();
    while (fs::exists(hierarchy.parent_path() / name)) hierarchy = hierarchy.parent_path();
    for (const auto& entry : fs::recursive_directory_iterator(hierarchy)) {
      if (entry.path().filename() != name) continue;
      auto ids = ids_in(entry.path());
      if (ids.erase(id) > 0) write_ids(entry.path(), ids);
    }
    auto ids = ids_in(path);
    ids.insert(id);
    write_ids(path, ids);
    if (v1) {  // cpuset_attach(): the task's affinity becomes the cpuset's CPUs
      std::string cpus = read_file(path.parent_path() / "cpuset.cpus");
      cpus.erase(cpus.find_last_not_of('\n') + 1);
      set_allowed(status, cpus);
    }
    return {};
  }

  static Result<void> edit_controllers(const fs::path& path, std::string_view value) {
    std::istringstream words(read_file(path));
    std::vector<std::string> enabled;
    for (std::string word; words >> word;) enabled.push_back(word);
    const std::string controller(value.substr(1));
    std::erase(enabled, controller);
    if (value.front() == '+') enabled.push_back(controller);
    std::string text;
    for (const auto& word : enabled) text += (text.empty() ? "" : " ") + word;
    write_file(path, text + "\n");
    return {};
  }

  fs::path root_;
  int budget_ = -1;
  int changes_ = 0;
  std::set<unsigned> managed_irqs_;
};

}  // namespace aether::partition::test
