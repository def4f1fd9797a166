#include "aether/core/host_environment.hpp"

#include <cstdio>
#include <filesystem>

namespace aether {
namespace {

std::string first_line(const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "re");
  if (file == nullptr) return {};
  char buffer[256] = {};
  const bool got = std::fgets(buffer, sizeof buffer, file) != nullptr;
  std::fclose(file);
  if (!got) return {};
  std::string line(buffer);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

// "POLL,C1(disabled),C2" from cpu0's cpuidle states.
std::string idle_states(const std::filesystem::path& cpuidle) {
  std::string out;
  for (unsigned state = 0; state < 16; ++state) {
    const auto directory = cpuidle / ("state" + std::to_string(state));
    const std::string name = first_line(directory / "name");
    if (name.empty()) break;
    if (!out.empty()) out += ',';
    out += name;
    const std::string latency = first_line(directory / "latency");
    if (!latency.empty()) out += "(" + latency + "us" + (first_line(directory / "disable") == "1" ? ",disabled" : "") + ")";
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> describe_host_environment() {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const char* key, std::string value) {
    if (!value.empty()) out.emplace_back(key, std::move(value));
  };
  add("kernel", first_line("/proc/sys/kernel/osrelease"));
  add("cpuidle driver", first_line("/sys/devices/system/cpu/cpuidle/current_driver"));
  add("cpuidle governor", first_line("/sys/devices/system/cpu/cpuidle/current_governor_ro"));
  add("idle states (cpu0)", idle_states("/sys/devices/system/cpu/cpu0/cpuidle"));
  add("cpufreq governor (cpu0)", first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"));
  add("sched_rt_runtime_us", first_line("/proc/sys/kernel/sched_rt_runtime_us"));
  if (out.size() > 0 && first_line("/sys/devices/system/cpu/cpuidle/current_driver").empty()) {
    add("idle", "no cpuidle driver: idle CPUs use the default halt (a VM's HLT exits to the hypervisor)");
  }
  return out;
}

}  // namespace aether
