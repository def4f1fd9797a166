// `aether partition status`: is this host partitioned for Aether, item by
// item, and what to do about each item that is not right.
//
// The Aether CPUs are the ones asked for; else the ones of an applied
// partition (its journal); else the CPUs the kernel isolates (sysfs isolated,
// isolcpus=, nohz_full=, isolated cpuset partitions, in that order); else
// none, and the host is reported unpartitioned with a plan hint. The
// housekeeping CPUs are the other online CPUs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aether/core/result.hpp"
#include "aether/partition/host_access.hpp"
#include "aether/partition/kernel_version.hpp"

namespace aether::partition {

// Ordered by severity.
enum class CheckLevel { ok, info, warn, fail };
const char* level_name(CheckLevel level) noexcept;  // "OK", "INFO", "WARN", "FAIL"

struct Check {
  std::string item;  // stable name, e.g. "cmdline.isolcpus"
  CheckLevel level = CheckLevel::info;
  std::string finding;               // one line: what was seen
  std::vector<std::string> details;  // further lines (IRQs, tasks, partitions ...)
  std::string fix;                   // what to do; empty when nothing is to be done
};

struct StatusOptions {
  std::optional<std::vector<unsigned>> aether_cpus;  // --aether-cpus
  // An apply journal to report on (and take the Aether CPUs from); a missing
  // file is fine.
  std::filesystem::path journal_path;
};

struct StatusReport {
  KernelVersion kernel;
  std::vector<unsigned> aether_cpus;
  std::string aether_cpus_source;  // where they came from, "" if none
  std::vector<unsigned> housekeeping_cpus;
  std::vector<Check> checks;

  [[nodiscard]] CheckLevel worst() const noexcept;
  [[nodiscard]] unsigned count(CheckLevel level) const noexcept;
};

// Reads the host through `host` and judges it. Fails only when the basics
// cannot be read (the CPU lists, the kernel version); everything else that is
// missing becomes a finding.
Result<StatusReport> collect_status(const HostAccess& host, const StatusOptions& options);

// The report for people: one row per check, its details and fix indented
// below it, then a summary line.
std::string format_status_table(const StatusReport& report);

nlohmann::json status_to_json(const StatusReport& report);

}  // namespace aether::partition
