// Gathering what `aether partition status` judges, and running the checks.
#include "aether/partition/status.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "checks.hpp"
#include "cpu_set_ops.hpp"

namespace aether::partition {
namespace {

// Which CPUs are Aether's, and why (see status.hpp).
void choose_aether_cpus(const StatusOptions& options, detail::StatusInputs& in) {
  struct Candidate {
    const std::vector<unsigned>* cpus;
    std::string source;
  };
  if (options.aether_cpus) {
    in.aether = *options.aether_cpus;
    in.aether_source = "--aether-cpus";
    return;
  }
  const std::vector<Candidate> candidates = {
      {in.journal && !in.journal_other_boot ? &in.journal->header.aether_cpus : nullptr, "the apply journal"},
      {&in.cpus.isolated, "/sys/devices/system/cpu/isolated"},
      {&in.cpus.cmdline_isolcpus, "isolcpus= on the kernel command line"},
      {&in.cpus.nohz_full, "/sys/devices/system/cpu/nohz_full"},
      {&in.cpus.cmdline_nohz_full, "nohz_full= on the kernel command line"},
      {&in.cpuset_isolated, "isolated cpusets"},
  };
  for (const Candidate& candidate : candidates) {
    if (candidate.cpus != nullptr && !candidate.cpus->empty()) {
      in.aether = *candidate.cpus;
      in.aether_source = candidate.source;
      return;
    }
  }
}

}  // namespace

const char* level_name(CheckLevel level) noexcept {
  switch (level) {
    case CheckLevel::ok:
      return "OK";
    case CheckLevel::info:
      return "INFO";
    case CheckLevel::warn:
      return "WARN";
    case CheckLevel::fail:
      return "FAIL";
  }
  return "?";
}

CheckLevel StatusReport::worst() const noexcept {
  CheckLevel worst_level = CheckLevel::ok;
  for (const Check& check : checks) worst_level = std::max(worst_level, check.level);
  return worst_level;
}

unsigned StatusReport::count(CheckLevel level) const noexcept {
  return static_cast<unsigned>(
      std::count_if(checks.begin(), checks.end(), [level](const Check& check) { return check.level == level; }));
}

Result<StatusReport> collect_status(const HostAccess& host, const StatusOptions& options) {
  detail::StatusInputs in;
  auto kernel = read_kernel_version(host);
  if (!kernel) return std::move(kernel).error();
  in.kernel = std::move(*kernel);
  auto cpus = read_host_cpus(host.roots().sysfs, host.roots().proc);
  if (!cpus) return std::move(cpus).error();
  in.cpus = std::move(*cpus);
  in.nohz_full_file = host.exists("/sys/devices/system/cpu/nohz_full");

  if (auto irqs = read_irqs(host)) {
    in.irqs = std::move(*irqs);
  } else {
    in.irq_error = irqs.error().describe();
  }
  in.cpusets = read_cpuset_state(host);
  in.cpuset_isolated = in.cpusets.isolated_cpus();
  in.tasks = read_tasks(host);

  in.journal_path = options.journal_path.native();
  if (!options.journal_path.empty()) {
    auto journal = read_journal(options.journal_path);
    if (journal) {
      in.journal = std::move(*journal);
      if (in.journal) in.journal_other_boot = journal_boot_mismatch(in.journal->header, read_boot_identity(host));
    } else {
      in.journal_error = journal.error().describe();
    }
  }

  choose_aether_cpus(options, in);
  in.housekeeping = detail::cpu_difference(in.cpus.online, in.aether);
  in.knobs = read_host_knobs(host, in.aether.empty() ? in.cpus.online : in.aether);

  StatusReport report;
  detail::check_boot(in, report.checks);
  detail::check_runtime(in, report.checks);
  detail::check_knobs(in, report.checks);
  report.kernel = in.kernel;
  report.aether_cpus = in.aether;
  report.aether_cpus_source = in.aether_source;
  report.housekeeping_cpus = in.housekeeping;
  return report;
}

}  // namespace aether::partition
