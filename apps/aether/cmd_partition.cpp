// `aether partition status|plan|apply|revert` and `aether doctor` (= status):
// splitting the CPUs into a host partition and an Aether partition, and
// checking the split. The work is in src/partition; this file is the command
// line.
#include <csignal>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/cpu_list.hpp"
#include "aether/core/cpu_topology.hpp"
#include "aether/partition/apply.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/journal.hpp"
#include "aether/partition/plan.hpp"
#include "aether/partition/revert.hpp"
#include "aether/partition/status.hpp"
#include "commands.hpp"

namespace aether::cli {
namespace {

using namespace aether::partition;

struct PartitionOptions {
  std::string aether_cpus;  // empty: not given
  bool json = false;
  bool allow_smt_split = false;
  std::string journal = default_journal_path;
  unsigned hugepages = 0;       // 0: leave vm.nr_hugepages alone
  KnobChoices knobs;            // --keep-rt-throttling, --keep-idle-states
  int kill_after_changes = -1;  // hidden, tests: SIGKILL apply before its (N+1)th change
  // Hidden: run against a fake tree (tests) instead of the real /sys and /proc.
  std::string sysfs_root = "/sys";
  std::string proc_root = "/proc";
};

HostRoots roots_of(const PartitionOptions& options) { return HostRoots{options.sysfs_root, options.proc_root}; }

// For the guest tests: a HostAccess that SIGKILLs its own process before its
// (N+1)th change, which is `kill -9` at an exact point of apply.
class KillingHostAccess final : public HostAccess {
 public:
  KillingHostAccess(HostRoots roots, int changes_allowed) : HostAccess(std::move(roots)), remaining_(changes_allowed) {}
  Result<void> write(std::string_view logical, std::string_view value) override {
    before_change();
    return HostAccess::write(logical, value);
  }
  Result<bool> make_directory(std::string_view logical) override {
    before_change();
    return HostAccess::make_directory(logical);
  }
  Result<void> remove_directory(std::string_view logical) override {
    before_change();
    return HostAccess::remove_directory(logical);
  }
  Result<void> set_task_affinity(pid_t tid, std::span<const unsigned> cpus) override {
    before_change();
    return HostAccess::set_task_affinity(tid, cpus);
  }

 private:
  void before_change() {
    if (remaining_-- == 0) std::raise(SIGKILL);
  }
  int remaining_;
};

// --aether-cpus, parsed; `required` makes a missing option an error.
Result<std::optional<std::vector<unsigned>>> aether_cpus_of(const PartitionOptions& options, bool required) {
  if (options.aether_cpus.empty()) {
    if (required) return invalid_argument("--aether-cpus LIST is required (e.g. --aether-cpus 2-3)");
    return std::optional<std::vector<unsigned>>{};
  }
  auto cpus = parse_cpu_list(options.aether_cpus);
  if (!cpus) return invalid_argument(fmt::format("--aether-cpus: {}", cpus.error().message));
  return std::optional<std::vector<unsigned>>(std::move(*cpus));
}

int fail(std::string_view command, const Error& error) {
  fmt::print(stderr, "aether partition {}: {}\n", command, error.describe());
  return exit_failure;
}

int run_status(const PartitionOptions& options) {
  auto cpus = aether_cpus_of(options, false);
  if (!cpus) return fail("status", cpus.error());
  HostAccess host(roots_of(options));
  StatusOptions status_options;
  status_options.aether_cpus = std::move(*cpus);
  status_options.journal_path = options.journal;
  auto report = collect_status(host, status_options);
  if (!report) return fail("status", report.error());
  if (options.json) {
    fmt::print("{}\n", status_to_json(*report).dump(2));
  } else {
    fmt::print("{}", format_status_table(*report));
  }
  return report->worst() == CheckLevel::fail ? exit_failure : exit_ok;
}

int run_plan(const PartitionOptions& options) {
  auto cpus = aether_cpus_of(options, true);
  if (!cpus) return fail("plan", cpus.error());
  HostAccess host(roots_of(options));
  auto kernel = read_kernel_version(host);
  if (!kernel) return fail("plan", kernel.error());
  auto host_cpus = read_host_cpus(options.sysfs_root, options.proc_root);
  if (!host_cpus) return fail("plan", host_cpus.error());
  auto plan = make_plan(*host_cpus, *kernel, find_cgroup_mounts(host), **cpus, options.allow_smt_split,
                        host.exists("/sys/devices/system/cpu/nohz_full"), options.knobs);
  if (!plan) return fail("plan", plan.error());
  if (options.json) {
    nlohmann::json json = {{"aether_cpus", format_cpu_list(plan->aether_cpus)},
                           {"housekeeping_cpus", format_cpu_list(plan->housekeeping_cpus)},
                           {"boot_parameters", plan->boot_parameters},
                           {"replaced_parameters", plan->replaced_parameters},
                           {"boot_instructions", plan->boot_instructions},
                           {"runtime_steps", plan->runtime_steps},
                           {"boot_only", plan->boot_only},
                           {"notes", plan->notes}};
    fmt::print("{}\n", json.dump(2));
  } else {
    fmt::print("{}", format_plan(*plan));
  }
  return exit_ok;
}

int run_apply(const PartitionOptions& options) {
  auto cpus = aether_cpus_of(options, true);
  if (!cpus) return fail("apply", cpus.error());
  std::unique_ptr<HostAccess> host =
      options.kill_after_changes >= 0
          ? std::make_unique<KillingHostAccess>(roots_of(options), options.kill_after_changes)
          : std::make_unique<HostAccess>(roots_of(options));
  ApplyOptions apply_options;
  apply_options.aether_cpus = **cpus;
  apply_options.allow_smt_split = options.allow_smt_split;
  apply_options.journal_path = options.journal;
  if (options.hugepages > 0) apply_options.hugepages = options.hugepages;
  apply_options.knobs = options.knobs;
  auto report = apply_partition(*host, apply_options);
  if (!report) return fail("apply", report.error());
  fmt::print("{}", format_apply_report(*report));
  return exit_ok;
}

int run_revert(const PartitionOptions& options) {
  HostAccess host(roots_of(options));
  auto report = revert_partition(host, options.journal);
  if (!report) return fail("revert", report.error());
  fmt::print("{}", format_revert_report(*report));
  return report->failures.empty() ? exit_ok : exit_failure;
}

void add_common(CLI::App* command, PartitionOptions& options) {
  command->add_option("--sysfs-root", options.sysfs_root, "Read sysfs from this directory (tests)")->group("");
  command->add_option("--proc-root", options.proc_root, "Read procfs from this directory (tests)")->group("");
}

void add_knob_choices(CLI::App* command, PartitionOptions& options) {
  command->add_flag("--keep-rt-throttling", options.knobs.keep_rt_throttling,
                    "Leave kernel.sched_rt_runtime_us alone (default: -1, no RT throttling of SCHED_FIFO workers)");
  command->add_flag("--keep-idle-states", options.knobs.keep_idle_states,
                    "Leave the Aether CPUs' idle states alone and do not ask --partition workers to hold "
                    "/dev/cpu_dma_latency at 0");
}

void add_status(CLI::App* command, const std::shared_ptr<PartitionOptions>& options, int& exit_code) {
  command->add_option("--aether-cpus", options->aether_cpus,
                      "The Aether CPUs, Linux list syntax (default: the applied or boot-isolated ones)");
  command->add_flag("--json", options->json, "Print the report as JSON");
  command->add_option("--journal", options->journal, "Apply journal to report on")->capture_default_str();
  add_common(command, *options);
  command->callback([options, &exit_code] { exit_code = run_status(*options); });
}

}  // namespace

void register_partition(CLI::App& app, int& exit_code) {
  CLI::App* partition = app.add_subcommand(
      "partition",
      "Split the CPUs into a host partition and an Aether partition: check the host (status), print the boot "
      "parameters (plan), apply and revert the run-time part.");
  partition->require_subcommand(1);

  const char* status_help =
      "Check the host item by item (kernel command line, isolation, SMT, IRQs, cpusets, tasks, workqueues, "
      "knobs): OK/INFO/WARN/FAIL with the fix; exit status 1 if anything FAILs";
  add_status(partition->add_subcommand("status", status_help), std::make_shared<PartitionOptions>(), exit_code);
  add_status(app.add_subcommand("doctor", "Same as `aether partition status`"), std::make_shared<PartitionOptions>(),
             exit_code);

  auto plan_options = std::make_shared<PartitionOptions>();
  CLI::App* plan = partition->add_subcommand(
      "plan",
      "Print the kernel command line for the Aether CPUs, how to install it, the run-time steps and what "
      "only a reboot can do");
  plan->add_option("--aether-cpus", plan_options->aether_cpus, "The Aether CPUs, Linux list syntax")->required();
  plan->add_flag("--allow-smt-split", plan_options->allow_smt_split,
                 "Accept an Aether CPU whose SMT sibling stays with the host");
  plan->add_flag("--json", plan_options->json, "Print the plan as JSON");
  add_knob_choices(plan, *plan_options);
  add_common(plan, *plan_options);
  plan->callback([plan_options, &exit_code] { exit_code = run_plan(*plan_options); });

  auto apply_options = std::make_shared<PartitionOptions>();
  CLI::App* apply = partition->add_subcommand(
      "apply",
      "Apply the run-time part (cpuset partition, task and IRQ affinities, workqueue cpumask, huge pages, RT "
      "throttling, timer migration, vmstat interval, deep idle states), journaling every previous value first; "
      "needs root");
  apply->add_option("--aether-cpus", apply_options->aether_cpus, "The Aether CPUs, Linux list syntax")->required();
  apply->add_flag("--allow-smt-split", apply_options->allow_smt_split,
                  "Accept an Aether CPU whose SMT sibling stays with the host");
  apply->add_option("--hugepages", apply_options->hugepages, "Also set vm.nr_hugepages to this many pages");
  add_knob_choices(apply, *apply_options);
  apply->add_option("--journal", apply_options->journal, "Journal of previous values")->capture_default_str();
  apply->add_option("--kill-after-changes", apply_options->kill_after_changes, "Tests: SIGKILL after N changes")
      ->group("");
  add_common(apply, *apply_options);
  apply->callback([apply_options, &exit_code] { exit_code = run_apply(*apply_options); });

  auto revert_options = std::make_shared<PartitionOptions>();
  CLI::App* revert = partition->add_subcommand(
      "revert", "Restore every value apply changed, from its journal (also after an interrupted apply)");
  revert->add_option("--journal", revert_options->journal, "Journal of previous values")->capture_default_str();
  add_common(revert, *revert_options);
  revert->callback([revert_options, &exit_code] { exit_code = run_revert(*revert_options); });
}

}  // namespace aether::cli
