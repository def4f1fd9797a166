// `aether bench fluid`: what the fluid partition's actuation costs and how
// steady it is (docs/fluid.md "bench fluid"), JSON:
//   - actuation: a cpuset the bench makes for itself (v1 cpuset hierarchy, or
//     v2 with the cpuset controller) holding a child that spins 1 ms and
//     sleeps 1 ms; `--resizes` resizes alternating between one and two CPUs,
//     each timed from just before the write of cpuset.cpus to (a) the write's
//     return, (b) every thread's affinity being the new set, (c) every
//     runnable thread seen on one of the new CPUs: p50/p99/max;
//   - resizes per second at steady load: `aether fluid run --count N` on the
//     same cpuset while its child runs a steady compute workload;
//   - classifier accuracy: `--model` on `--heldout` traces, when given.
// Everything the bench changed is journaled and reverted; the cpuset is removed.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fluid_commands.hpp"
#include "report_files.hpp"

#if defined(AETHER_HAVE_FLUID)
#include "aether/core/cpu_list.hpp"
#include "aether/fluid/actuator.hpp"
#include "aether/fluid/decision_tree.hpp"
#include "aether/fluid/evaluation.hpp"
#include "aether/fluid/trace.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/revert.hpp"
#endif

namespace aether::cli {
namespace {

struct FluidBenchOptions {
  unsigned resizes = 200;
  unsigned steady_intervals = 50;
  std::string model_path;
  std::vector<std::string> heldout;
  std::string json_path;
};

#if defined(AETHER_HAVE_FLUID)

int fail(const std::string& message) {
  fmt::print(stderr, "aether bench fluid: {}\n", message);
  return exit_failure;
}

nlohmann::json percentiles_us(std::vector<std::chrono::nanoseconds> values) {
  if (values.empty()) return {{"samples", 0}};
  std::sort(values.begin(), values.end());
  auto at = [&](double quantile) {
    const auto index = std::min(values.size() - 1, static_cast<std::size_t>(quantile * static_cast<double>(values.size())));
    return static_cast<double>(values[index].count()) / 1e3;
  };
  return {{"samples", values.size()}, {"p50_us", at(0.50)}, {"p99_us", at(0.99)},
          {"max_us", static_cast<double>(values.back().count()) / 1e3}};
}

// A cpuset of the bench's own below the cpuset root, with a child process
// in it; removed (child killed, tasks moved to the root) when it goes.
class BenchCpuset {
 public:
  static Result<std::unique_ptr<BenchCpuset>> make(partition::HostAccess& host, const std::string& cpus) {
    const auto mounts = partition::find_cgroup_mounts(host);
    std::string root;
    if (mounts.v1_cpuset) {
      root = *mounts.v1_cpuset;
    } else if (mounts.v2 && mounts.v2_has_cpuset) {
      root = *mounts.v2;
    } else {
      return invalid_argument("no cpuset cgroup: neither a v1 cpuset mount nor the v2 cpuset controller");
    }
    auto cpuset = std::unique_ptr<BenchCpuset>(new BenchCpuset(host, root, fmt::format("{}/aether-bench-fluid-{}", root, ::getpid())));
    if (auto made = host.make_directory(cpuset->path_); !made) return std::move(made).error();
    if (mounts.v1_cpuset) {
      auto mems = host.read_trimmed(root + "/cpuset.mems");
      if (auto ok = host.write(cpuset->path_ + "/cpuset.mems", mems.value_or("0")); !ok) return std::move(ok).error();
    }
    if (auto ok = host.write(cpuset->path_ + "/cpuset.cpus", cpus); !ok) return std::move(ok).error();
    return cpuset;
  }
  ~BenchCpuset() {
    stop_child();
    for (pid_t id : partition::read_cgroup_members(*host_, path_ + "/cgroup.procs")) {
      (void)host_->write(root_ + "/cgroup.procs", std::to_string(id));
    }
    for (int attempt = 0; attempt < 50 && !host_->remove_directory(path_); ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  BenchCpuset(const BenchCpuset&) = delete;
  BenchCpuset& operator=(const BenchCpuset&) = delete;

  // `argv` (or, empty, a 1 ms spin / 1 ms sleep loop) in this cpuset.
  Result<void> start_child(const std::vector<std::string>& argv) {
    stop_child();
    child_ = ::fork();
    if (child_ < 0) return errno_error("fork");
    if (child_ == 0) {
      if (!argv.empty()) {
        std::vector<char*> args;
        for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
        args.push_back(nullptr);
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        ::execv(args[0], args.data());
        ::_exit(127);
      }
      for (;;) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
        while (std::chrono::steady_clock::now() < until) {
        }
        ::usleep(1000);
      }
    }
    return host_->write(path_ + "/cgroup.procs", std::to_string(child_));
  }
  void stop_child() {
    if (child_ <= 0) return;
    ::kill(child_, SIGKILL);
    ::waitpid(child_, nullptr, 0);
    child_ = 0;
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  BenchCpuset(partition::HostAccess& host, std::string root, std::string path)
      : host_(&host), root_(std::move(root)), path_(std::move(path)) {}
  partition::HostAccess* host_;
  std::string root_;
  std::string path_;
  pid_t child_ = 0;
};

Result<nlohmann::json> measure_actuation(partition::HostAccess& host, BenchCpuset& cpuset,
                                         const std::vector<unsigned>& pool, const std::filesystem::path& journal,
                                         unsigned resizes) {
  if (auto started = cpuset.start_child({}); !started) return std::move(started).error();
  fluid::ActuatorConfig config;
  config.cgroup = cpuset.path();
  config.pool = pool;
  config.journal_path = journal;
  auto actuator = fluid::CpusetActuator::open(config, host);
  if (!actuator) return std::move(actuator).error();
  std::vector<std::chrono::nanoseconds> write, affinity, running;
  unsigned unsettled = 0;
  for (unsigned i = 0; i < resizes; ++i) {
    auto resized = actuator->resize(i % 2 == 0 ? 2 : 1);
    if (!resized) return std::move(resized).error();
    write.push_back(resized->timing.write);
    if (!resized->timing.settled) {
      ++unsettled;
      continue;
    }
    affinity.push_back(resized->timing.affinity);
    running.push_back(resized->timing.running);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let the child run between resizes
  }
  if (auto finished = actuator->finish(); !finished) return std::move(finished).error();
  cpuset.stop_child();
  return nlohmann::json{{"resizes", resizes},
                        {"not_settled_within_1s", unsettled},
                        {"write", percentiles_us(write)},
                        {"affinity_visible", percentiles_us(affinity)},
                        {"threads_running_on_new_cpus", percentiles_us(running)}};
}

// `aether fluid run --count N` on the cpuset while a steady compute workload
// runs there: resizes per second from its decision log.
Result<nlohmann::json> measure_steady(BenchCpuset& cpuset, const std::vector<unsigned>& pool,
                                      const std::filesystem::path& directory, unsigned intervals) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  const auto policy = directory / "latency.toml";
  std::ofstream(policy) << "goal = \"latency\"\n[resize]\nceiling = 2\n[phases]\ncompute = 2\nidle = 1\n";
  const std::string seconds = std::to_string(intervals / 10 + 5);  // longer than the run (100 ms intervals)
  if (auto started = cpuset.start_child({self, "fluid", "workload", "--phases", "compute:" + seconds}); !started) {
    return std::move(started).error();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto log = directory / "steady.jsonl";
  const std::string command = fmt::format(
      "{} fluid run --policy {} --cgroup {} --cpus {} --journal {} --log {} --count {} >/dev/null", self,
      policy.native(), cpuset.path(), format_cpu_list(pool), (directory / "steady.journal").native(), log.native(),
      intervals);
  const int status = std::system(command.c_str());
  cpuset.stop_child();
  if (status != 0) return invalid_argument(fmt::format("`{}` failed (status {})", command, status));
  partition::HostAccess host;
  (void)partition::revert_partition(host, directory / "steady.journal");
  unsigned resizes = 0;
  unsigned lines = 0;
  double first = 0;
  double last = 0;
  std::ifstream entries(log);
  std::map<std::string, unsigned> phases;
  for (std::string line; std::getline(entries, line); ++lines) {
    const auto entry = nlohmann::json::parse(line, nullptr, false);
    if (entry.is_discarded()) continue;
    const double at = entry.value("t_s", 0.0);
    if (lines == 0) first = at;
    last = at;
    const std::string decision = entry.value("decision", "");
    resizes += decision == "grow" || decision == "shrink" ? 1 : 0;
    ++phases[entry.value("phase", "?")];
  }
  const double span = last - first;
  return nlohmann::json{{"intervals", lines},
                        {"seconds", span},
                        {"resizes", resizes},
                        {"resizes_per_s", span > 0 ? resizes / span : 0.0},
                        {"phases_seen", phases},
                        {"workload", "aether fluid workload --phases compute:" + seconds}};
}

int run_fluid_bench(const FluidBenchOptions& options) {
  partition::HostAccess host;
  auto online = parse_cpu_list(host.read_trimmed("/sys/devices/system/cpu/online").value_or(""));
  if (!online || online->size() < 2) return fail("needs at least two online CPUs");
  const std::vector<unsigned> pool = {(*online)[online->size() - 2], online->back()};
  const auto directory = std::filesystem::temp_directory_path() / fmt::format("aether-bench-fluid-{}", ::getpid());
  std::filesystem::create_directories(directory);
  nlohmann::json report = {{"note", "figures from the machine this ran on, under whatever else it was running"},
                           {"pool", format_cpu_list(pool)}};
  {
    auto cpuset = BenchCpuset::make(host, std::to_string(pool[1]));
    if (!cpuset) return fail(cpuset.error().describe());
    report["cpuset"] = (*cpuset)->path();
    auto actuation = measure_actuation(host, **cpuset, pool, directory / "actuation.journal", options.resizes);
    auto reverted = partition::revert_partition(host, directory / "actuation.journal");
    if (!actuation) return fail(actuation.error().describe());
    if (!reverted) return fail(reverted.error().describe());
    report["actuation"] = *actuation;
    auto steady = measure_steady(**cpuset, pool, directory, options.steady_intervals);
    report["steady_load"] = steady ? *steady : nlohmann::json{{"unavailable", steady.error().describe()}};
  }
  if (!options.model_path.empty()) {
    auto model = fluid::DecisionTree::load(options.model_path);
    if (!model) return fail(model.error().describe());
    std::vector<fluid::LabelledInterval> intervals;
    for (const auto& path : options.heldout) {
      auto trace = fluid::read_trace(path);
      if (!trace) return fail(trace.error().describe());
      intervals.insert(intervals.end(), trace->begin(), trace->end());
    }
    const auto evaluation = fluid::evaluate(*model, intervals);
    report["classifier"] = {{"model", options.model_path}, {"heldout", options.heldout},
                            {"accuracy", evaluation.accuracy()}, {"intervals", evaluation.intervals}};
  } else {
    report["classifier"] = {{"unavailable", "no --model and --heldout given"}};
  }
  report["load_step"] = {{"unavailable", "not measured yet (docs/fluid.md)"}};
  std::filesystem::remove_all(directory);
  const std::string text = report.dump(2) + "\n";
  fmt::print("{}", text);
  if (!options.json_path.empty()) {
    if (auto written = write_text_file(options.json_path, text); !written) return fail(written.error().describe());
  }
  return exit_ok;
}

#else

int run_fluid_bench(const FluidBenchOptions&) {
  fmt::print(stderr, "aether bench fluid: this build has no fluid module\n");
  return exit_failure;
}

#endif

}  // namespace

void register_fluid_bench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<FluidBenchOptions>();
  CLI::App* command = bench.add_subcommand(
      "fluid",
      "The fluid partition's actuation (write of cpuset.cpus -> threads on the new CPUs: p50/p99), resizes per "
      "second at steady load, classifier accuracy on held-out traces; JSON. Needs root (makes its own cpuset).");
  command->add_option("--resizes", options->resizes, "Resizes timed")->default_val(200)->check(CLI::Range(2, 100000));
  command->add_option("--steady-intervals", options->steady_intervals, "100 ms intervals of `fluid run` at steady load")
      ->default_val(50)->check(CLI::Range(5, 100000));
  command->add_option("--model", options->model_path, "Classifier model (aether fluid train) to score");
  command->add_option("--heldout", options->heldout, "Held-out traces for --model")->expected(1, -1);
  command->add_option("--json", options->json_path, "Also write the JSON report here");
  command->callback([options, &exit_code] { exit_code = run_fluid_bench(*options); });
}

}  // namespace aether::cli
