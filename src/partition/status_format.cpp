// The status report as a table for people and as JSON.
#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/status.hpp"

namespace aether::partition {

std::string format_status_table(const StatusReport& report) {
  std::string text = fmt::format(
      "aether partition status: Linux {}; Aether CPUs {}{}; housekeeping CPUs {}\n\n", report.kernel.release,
      report.aether_cpus.empty() ? std::string("none") : format_cpu_list(report.aether_cpus),
      report.aether_cpus_source.empty() ? std::string() : fmt::format(" (from {})", report.aether_cpus_source),
      format_cpu_list(report.housekeeping_cpus));
  constexpr int item_width = 20;
  const std::string indent(6 + item_width + 1, ' ');
  for (const Check& check : report.checks) {
    text += fmt::format("{:<5} {:<{}} {}\n", level_name(check.level), check.item, item_width, check.finding);
    for (const std::string& detail : check.details) text += fmt::format("{}{}\n", indent, detail);
    if (!check.fix.empty()) text += fmt::format("{}fix: {}\n", indent, check.fix);
  }
  text += fmt::format("\n{} FAIL, {} WARN, {} OK, {} INFO\n", report.count(CheckLevel::fail),
                      report.count(CheckLevel::warn), report.count(CheckLevel::ok), report.count(CheckLevel::info));
  return text;
}

nlohmann::json status_to_json(const StatusReport& report) {
  nlohmann::json checks = nlohmann::json::array();
  for (const Check& check : report.checks) {
    checks.push_back({{"item", check.item},
                      {"level", level_name(check.level)},
                      {"finding", check.finding},
                      {"details", check.details},
                      {"fix", check.fix}});
  }
  return {{"kernel", report.kernel.release},
          {"aether_cpus", format_cpu_list(report.aether_cpus)},
          {"aether_cpus_source", report.aether_cpus_source},
          {"housekeeping_cpus", format_cpu_list(report.housekeeping_cpus)},
          {"worst", level_name(report.worst())},
          {"counts",
           {{"FAIL", report.count(CheckLevel::fail)},
            {"WARN", report.count(CheckLevel::warn)},
            {"OK", report.count(CheckLevel::ok)},
            {"INFO", report.count(CheckLevel::info)}}},
          {"checks", checks}};
}

}  // namespace aether::partition
