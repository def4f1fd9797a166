// `aether fluid record`: labelled feature traces for the phase classifier
// (docs/fluid.md). Either every interval of a running target gets one label
// (--label PHASE with --pid or --cgroup), or the built-in workload runs as a
// child and each interval is labelled with the phase it ran in (--workload).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/unique_fd.hpp"
#include "fluid_commands.hpp"
#include "aether/runtime/stop_signal.hpp"

#if defined(AETHER_HAVE_FLUID)
#include "aether/fluid/trace.hpp"
#include "aether/fluid/workload.hpp"
#endif

extern char** environ;

namespace aether::cli {
namespace {

struct FluidRecordOptions {
  std::string label;
  std::string workload_phases;
  pid_t pid = 0;
  std::string cgroup;
  std::string out_path;
  int interval_ms = 100;
  std::uint64_t count = 0;  // 0: until the target ends or Ctrl-C
};

#if defined(AETHER_HAVE_FLUID)

// `aether fluid workload` as a child whose stdout we read: its "phase NAME
// for ... starts" lines say when each phase begins.
class WorkloadChild {
 public:
  static Result<WorkloadChild> spawn(const std::string& phases) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) return errno_error("cannot make a pipe for the workload's output");
    WorkloadChild child;
    child.output_ = UniqueFd(ends[0]);
    const UniqueFd write_end(ends[1]);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
    std::string self = "/proc/self/exe";
    std::string fluid = "fluid";
    std::string workload = "workload";
    std::string option = "--phases";
    std::string value = phases;
    char* arguments[] = {self.data(), fluid.data(), workload.data(), option.data(), value.data(), nullptr};
    const int failed = ::posix_spawn(&child.pid_, self.c_str(), &actions, nullptr, arguments, environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (failed != 0) return errno_error("cannot start `aether fluid workload`", failed);
    ::fcntl(child.output_.get(), F_SETFL, O_NONBLOCK);
    return child;
  }

  WorkloadChild() = default;
  WorkloadChild(WorkloadChild&& other) noexcept : output_(std::move(other.output_)), pid_(std::exchange(other.pid_, 0)), text_(std::move(other.text_)) {}
  WorkloadChild& operator=(WorkloadChild&&) = delete;
  ~WorkloadChild() {
    if (pid_ > 0) {  // ended early (an error, Ctrl-C): do not leave it running
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  // Reads what the child printed since the last call. Returns whether a phase
  // began or the workload finished in that time; `current` is the phase now
  // running ("" before the first).
  bool drain(std::string& current) {
    char buffer[4096];
    ssize_t got = 0;
    while ((got = ::read(output_.get(), buffer, sizeof buffer)) > 0) text_.append(buffer, static_cast<std::size_t>(got));
    bool changed = false;
    for (auto end = text_.find('\n'); end != std::string::npos; end = text_.find('\n')) {
      const std::string line = text_.substr(0, end);
      text_.erase(0, end + 1);
      // "phase NAME for S s starts at +T s" and, at the end, "phase NAME: N operations"
      if (line.rfind("phase ", 0) != 0) continue;
      changed = true;
      if (const auto name_end = line.find(" for "); name_end != std::string::npos && line.find(" starts ") != std::string::npos) {
        current = line.substr(6, name_end - 6);
      } else {
        current.clear();
      }
    }
    return changed;
  }

  // Waits for the child; an error when it failed.
  Result<void> finish() {
    int status = 0;
    const pid_t waited = ::waitpid(std::exchange(pid_, 0), &status, 0);
    if (waited < 0) return errno_error("cannot wait for `aether fluid workload`");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return invalid_argument(fmt::format("`aether fluid workload` failed (status {:#x}; its stderr above)", status));
    }
    return {};
  }

 private:
  UniqueFd output_;
  pid_t pid_ = 0;
  std::string text_;
};

int record_failure(const Error& error) {
  fmt::print(stderr, "aether fluid record: {}\n", error.describe());
  return exit_failure;
}

int run_fluid_record(const FluidRecordOptions& options) {
  const bool from_workload = !options.workload_phases.empty();
  if (from_workload) {
    if (auto phases = fluid::parse_phases(options.workload_phases); !phases) {
      return record_failure(invalid_argument(fmt::format("--workload: {}", phases.error().message)));
    }
  } else if (auto checked = fluid::check_label(options.label); !checked) {
    return record_failure(invalid_argument(fmt::format("--label: {}", checked.error().message)));
  }
  std::optional<WorkloadChild> child;
  fluid::WatchTarget target;
  target.pid = options.pid;
  target.cgroup = options.cgroup;
  if (from_workload) {
    auto spawned = WorkloadChild::spawn(options.workload_phases);
    if (!spawned) return record_failure(spawned.error());
    child.emplace(std::move(*spawned));
    target.pid = child->pid();
  }
  auto opened = open_watch(target);
  if (!opened) return record_failure(opened.error());
  std::ofstream out(options.out_path, std::ios::trunc);
  if (!out) return record_failure(errno_error(fmt::format("cannot write {}", options.out_path)));

  fmt::print("aether fluid record: {} every {} ms into {}\n",
             from_workload ? fmt::format("workload {} (pid {})", options.workload_phases, target.pid)
                           : fmt::format("label {}", options.label),
             options.interval_ms, options.out_path);
  std::fflush(stdout);
  std::map<std::string, std::uint64_t> recorded;
  std::uint64_t straddling = 0;  // intervals in which a phase began or the workload ended: not one phase, not written
  std::string phase;
  const auto& interrupted = runtime::install_stop_signals();
  int status = exit_ok;
  for (std::uint64_t done = 0; options.count == 0 || done < options.count; ++done) {
    if (interrupted.load(std::memory_order_relaxed)) break;  // relaxed: a flag, nothing published with it
    auto features = opened->session->next(std::chrono::milliseconds(options.interval_ms));
    if (!features) {
      const bool pid_exited = target.cgroup.empty() && features.error().code.value() == ESRCH;
      if (!pid_exited) {
        fmt::print(stderr, "aether fluid record: {}; stopping\n", features.error().message);
        status = exit_failure;
      }
      break;
    }
    std::string label = options.label;
    if (child) {
      if (child->drain(phase) || phase.empty()) {
        ++straddling;
        continue;
      }
      label = phase;
    }
    ++recorded[label];
    out << fluid::trace_line(*features, label).dump() << '\n' << std::flush;  // complete lines even if killed
  }
  if (child) {
    if (auto finished = child->finish(); !finished) return record_failure(finished.error());
  }
  std::uint64_t total = 0;
  std::string per_label;
  for (const auto& [label, count] : recorded) {
    total += count;
    per_label += fmt::format(" {}={}", label, count);
  }
  fmt::print("aether fluid record: {} intervals written:{}{}\n", total, per_label,
             child ? fmt::format(" ({} left out: a phase began or ended in them)", straddling) : std::string());
  return status;
}

#else

int run_fluid_record(const FluidRecordOptions&) { return fluid_missing("record"); }

#endif

}  // namespace

void register_fluid_record(CLI::App& fluid_command, int& exit_code) {
  auto options = std::make_shared<FluidRecordOptions>();
  CLI::App* record = fluid_command.add_subcommand(
      "record",
      "Record a labelled feature trace (JSON lines) for `aether fluid train`: every interval of --pid/--cgroup labelled "
      "--label PHASE, or the built-in workload run here with each interval labelled by its phase (--workload). Root.");
  auto* label = record->add_option("--label", options->label, "The phase every interval is in (a-z, 0-9, _ and -)");
  auto* workload = record->add_option("--workload", options->workload_phases,
                                      "Run `aether fluid workload --phases` with these phases and label by phase, e.g. "
                                      "idle:2,packets:2,syscall:2,compute:2,faults:2");
  auto* pid = record->add_option("--pid", options->pid, "Watch this process")->check(CLI::PositiveNumber);
  auto* cgroup = record->add_option("--cgroup", options->cgroup, "Watch every process of this cgroup directory");
  label->excludes(workload);
  workload->excludes(label)->excludes(pid)->excludes(cgroup);
  pid->excludes(cgroup);
  record->add_option("--out", options->out_path, "The trace file to write")->required();
  record->add_option("--interval-ms", options->interval_ms, "Interval length")->default_val(100)->check(CLI::Range(10, 60000));
  record->add_option("--count", options->count, "Stop after this many intervals");
  record->callback([options, record, &exit_code] {
    const bool labelled = record->count("--label") != 0;
    const bool targeted = record->count("--pid") != 0 || record->count("--cgroup") != 0;
    if (record->count("--workload") == 0 && !(labelled && targeted)) {
      fmt::print(stderr, "aether fluid record: give --label PHASE with --pid N or --cgroup PATH, or --workload PHASES\n");
      exit_code = exit_failure;
      return;
    }
    exit_code = run_fluid_record(*options);
  });
}

}  // namespace aether::cli
