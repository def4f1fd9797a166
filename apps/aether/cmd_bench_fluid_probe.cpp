// `aether bench fluid-probe`: what the fluid telemetry costs the watched
// application, in ns per syscall: a pinned loop of getppid() without any
// probe, with the fluid BPF programs attached and watching this process, and
// with bpftrace counting the same events (every syscall by number and every
// user page fault of this pid), in the same run. Prints JSON.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <regex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/thread_setup.hpp"
#include "aether/core/unique_fd.hpp"
#include "commands.hpp"
#include "report_files.hpp"

#if defined(AETHER_HAVE_FLUID)
#include "aether/fluid/telemetry.hpp"
#endif

extern char** environ;

namespace aether::cli {
namespace {

struct FluidProbeOptions {
  std::uint64_t calls = 1'000'000;
  unsigned rounds = 5;
  int cpu = -1;  // -1: the CPU this command starts on
  bool bpftrace = true;
  std::string json_path;
};

#if defined(AETHER_HAVE_FLUID)

// ns per getppid() over `calls` calls, after a short warm-up.
double time_getppid(std::uint64_t calls) {
  for (int i = 0; i < 10'000; ++i) (void)::syscall(SYS_getppid);
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < calls; ++i) (void)::syscall(SYS_getppid);
  const auto end = std::chrono::steady_clock::now();
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count()) /
         static_cast<double>(calls);
}

nlohmann::json summary(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const double median = values.empty() ? 0.0 : values[values.size() / 2];
  return {{"median", median}, {"min", values.empty() ? 0.0 : values.front()}, {"rounds", values}};
}

// bpftrace with tracefs mounted in its own mount namespace (tracefs is not
// mounted on our hosts; the mount disappears with the namespace).
class BpftraceCounter {
 public:
  static Result<BpftraceCounter> start(pid_t watched) {
    const std::string program = fmt::format(
        "tracepoint:raw_syscalls:sys_enter /pid == {0}/ {{ @syscalls[args->id] = count(); }} "
        "tracepoint:exceptions:page_fault_user /pid == {0}/ {{ @faults = count(); }}",
        watched);
    const std::string shell = "mount -t tracefs nodev /sys/kernel/tracing && exec bpftrace -e '" + program + "'";
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) return errno_error("bpftrace: cannot make a pipe");
    UniqueFd read_end(ends[0]);
    UniqueFd write_end(ends[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
    const char* argv[] = {"unshare", "-m", "sh", "-c", shell.c_str(), nullptr};
    pid_t child = 0;
    const int error = posix_spawnp(&child, "unshare", &actions, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) return errno_error("bpftrace: cannot start unshare", error);
    write_end.reset();
    BpftraceCounter counter(child, std::move(read_end));
    // bpftrace prints "Attaching N probes..." just before attaching them.
    if (!counter.read_until("Attaching", std::chrono::seconds(60))) {
      return errno_error(fmt::format("bpftrace did not attach: {}", counter.output_), EIO);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return counter;
  }

  BpftraceCounter(BpftraceCounter&& other) noexcept
      : pid_(std::exchange(other.pid_, 0)), output_fd_(std::move(other.output_fd_)), output_(std::move(other.output_)),
        at_end_(other.at_end_) {}
  BpftraceCounter& operator=(BpftraceCounter&&) = delete;
  ~BpftraceCounter() { (void)stop(); }

  // SIGINT makes bpftrace print its maps and exit; returns what it printed.
  // A SIGINT that lands while bpftrace is still attaching (seen on a loaded
  // host, 1 s after "Attaching") is lost and bpftrace then waits forever, so
  // signal again every second until its output ends; kill it after 30 s
  // rather than hang (its counts are then missing, which the caller reports).
  std::string stop() {
    if (pid_ <= 0) return output_;
    for (int attempt = 0; attempt < 30 && !at_end_; ++attempt) {
      ::kill(pid_, SIGINT);
      (void)read_until("\x01never", std::chrono::seconds(1));  // to EOF, or a second
    }
    if (!at_end_) ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    return output_;
  }

 private:
  BpftraceCounter(pid_t pid, UniqueFd output_fd) : pid_(pid), output_fd_(std::move(output_fd)) {}

  bool read_until(std::string_view marker, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (output_.find(marker) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd wait{output_fd_.get(), POLLIN, 0};
      if (::poll(&wait, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      const ssize_t count = ::read(output_fd_.get(), buffer, sizeof buffer);
      if (count <= 0) {  // EOF: bpftrace ended
        at_end_ = true;
        return false;
      }
      output_.append(buffer, static_cast<std::size_t>(count));
    }
    return true;
  }

  pid_t pid_ = 0;
  UniqueFd output_fd_;
  std::string output_;
  bool at_end_ = false;
};

int run_fluid_probe(const FluidProbeOptions& options) {
  const int cpu = options.cpu >= 0 ? options.cpu : ::sched_getcpu();
  if (auto pinned = pin_current_thread(static_cast<unsigned>(cpu)); !pinned) {
    fmt::print(stderr, "aether bench fluid-probe: {}\n", pinned.error().describe());
    return exit_failure;
  }
  std::vector<double> baseline, fluid, bpftrace;
  std::vector<std::uint64_t> fluid_counted;
  // One more round with the kernel's run-time accounting on (it adds two
  // clock reads per program run to every BPF program, so the timed rounds
  // run without it): how much of the added cost is the program itself.
  std::vector<double> program_ns;
  Result<UniqueFd> stats_fd = errno_error("not enabled", 0);
  for (unsigned round = 0; round <= options.rounds; ++round) {
    const bool stats_round = round == options.rounds;
    if (stats_round) stats_fd = fluid::Telemetry::enable_run_time_stats();
    if (!stats_round) baseline.push_back(time_getppid(options.calls));
    auto telemetry = fluid::Telemetry::open();
    if (!telemetry) {
      fmt::print(stderr, "aether bench fluid-probe: {}\n", telemetry.error().describe());
      return exit_failure;
    }
    if (auto watched = telemetry->watch(::getpid()); !watched) {
      fmt::print(stderr, "aether bench fluid-probe: {}\n", watched.error().describe());
      return exit_failure;
    }
    auto before = telemetry->read();
    const double ns_per_call = time_getppid(options.calls);
    auto after = telemetry->read();
    if (!before || !after) {
      fmt::print(stderr, "aether bench fluid-probe: cannot read the counters\n");
      return exit_failure;
    }
    if (stats_round) {
      for (const auto& program : telemetry->run_stats()) {
        if (program.name == "fluid_sys_enter" && program.run_count > 0) {
          program_ns.push_back(static_cast<double>(program.run_time_ns) / static_cast<double>(program.run_count));
        }
      }
      continue;
    }
    fluid.push_back(ns_per_call);
    const auto other = static_cast<std::size_t>(fluid::SyscallClass::other);
    fluid_counted.push_back(after->syscalls[other] - before->syscalls[other]);
  }  // each round's Telemetry is destroyed here: programs detached
  if (stats_fd) stats_fd->reset();
  nlohmann::json bpftrace_json;
  if (options.bpftrace) {
    auto counter = BpftraceCounter::start(::getpid());
    if (!counter) {
      bpftrace_json = {{"unavailable", counter.error().describe()}};
    } else {
      for (unsigned round = 0; round < options.rounds; ++round) bpftrace.push_back(time_getppid(options.calls));
      const std::string output = counter->stop();
      // "@syscalls[110]: 5010000" (110 = getppid on x86_64).
      std::smatch match;
      const std::regex getppid_line(fmt::format(R"(@syscalls\[{}\]: (\d+))", SYS_getppid));
      const std::uint64_t counted = std::regex_search(output, match, getppid_line) ? std::stoull(match[1]) : 0;
      bpftrace_json = summary(bpftrace);
      bpftrace_json["counted_getppid"] = counted;
    }
    for (unsigned round = 0; round < options.rounds; ++round) baseline.push_back(time_getppid(options.calls));
  } else {
    bpftrace_json = {{"unavailable", "not run (--no-bpftrace)"}};
  }
  nlohmann::json report = {
      {"benchmark", "fluid-probe"},
      {"cpu", cpu},
      {"calls_per_round", options.calls},
      {"baseline_ns_per_call", summary(baseline)},
      {"fluid_ns_per_call", summary(fluid)},
      {"fluid_counted_getppid_per_round", fluid_counted},
      {"fluid_sys_enter_program_ns_per_run", stats_fd ? summary(program_ns) : nlohmann::json{{"unavailable", stats_fd.error().describe()}}},
      {"bpftrace_ns_per_call", bpftrace_json},
  };
  const double base = report["baseline_ns_per_call"]["median"].get<double>();
  report["fluid_added_ns_per_call"] = report["fluid_ns_per_call"]["median"].get<double>() - base;
  if (bpftrace_json.contains("median")) report["bpftrace_added_ns_per_call"] = bpftrace_json["median"].get<double>() - base;
  const std::string text = report.dump(2) + "\n";
  fmt::print("{}", text);
  if (!options.json_path.empty()) {
    if (auto written = write_text_file(options.json_path, text); !written) {
      fmt::print(stderr, "aether bench fluid-probe: {}\n", written.error().describe());
      return exit_failure;
    }
  }
  return exit_ok;
}

#else

int run_fluid_probe(const FluidProbeOptions&) {
  fmt::print(stderr, "aether bench fluid-probe: this build has no fluid module (see the CMake output)\n");
  return exit_failure;
}

#endif

}  // namespace

void register_fluid_probe_bench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<FluidProbeOptions>();
  CLI::App* command = bench.add_subcommand(
      "fluid-probe",
      "ns per getppid() of a pinned loop: bare, with the fluid telemetry watching it, and with bpftrace counting "
      "the same events, in one run (JSON). Needs root.");
  command->add_option("--calls", options->calls, "getppid() calls per round")->default_val(1'000'000)->check(CLI::Range(1000, 1'000'000'000));
  command->add_option("--rounds", options->rounds, "Rounds per mode (the median is reported)")->default_val(5)->check(CLI::Range(1, 1000));
  command->add_option("--cpu", options->cpu, "Pin the loop to this CPU (default: where the command starts)");
  command->add_flag("!--no-bpftrace", options->bpftrace, "Skip the bpftrace comparison");
  command->add_option("--json", options->json_path, "Also write the JSON report here");
  command->callback([options, &exit_code] { exit_code = run_fluid_probe(*options); });
}

}  // namespace aether::cli
