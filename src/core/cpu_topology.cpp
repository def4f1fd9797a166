// Reading the host's CPU description from sysfs and /proc/cmdline.
#include "aether/core/cpu_topology.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/core/text_file.hpp"

namespace aether {
namespace {

namespace fs = std::filesystem;
using detail::parse_int_value;
using detail::read_optional_text_file;
using detail::trim;

// Wraps a parse_cpu_list error with where the list came from (a file, or a
// file and a kernel parameter).
Result<std::vector<unsigned>> cpu_list_from(std::string_view where, std::string_view text,
                                            std::optional<unsigned> last_cpu = std::nullopt) {
  auto cpus = last_cpu ? parse_cpu_list(text, *last_cpu) : parse_cpu_list(text);
  if (!cpus) return invalid_argument(fmt::format("{}: {}", where, cpus.error().message));
  return cpus;
}

// A CPU list file; a missing file is an empty list unless `required`.
Result<std::vector<unsigned>> read_cpu_list_file(const fs::path& path, bool required) {
  auto text = read_optional_text_file(path);
  if (!text) return std::move(text).error();
  if (!*text) {
    if (required) return errno_error(fmt::format("cannot read {}", path.native()), ENOENT);
    return std::vector<unsigned>{};
  }
  // Kernels up to 6.12 print "(null)" in /sys/devices/system/cpu/nohz_full
  // when booted without nohz_full= (later ones print an empty line).
  std::string_view trimmed = **text;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) trimmed.remove_suffix(1);
  if (trimmed == "(null)") return std::vector<unsigned>{};
  return cpu_list_from(path.native(), **text);
}

// An integer file; `missing` if the file does not exist.
Result<int> read_int_file(const fs::path& path, int missing) {
  auto text = read_optional_text_file(path);
  if (!text) return std::move(text).error();
  if (!*text) return missing;
  return parse_int_value(path, **text);
}

// "node12" with prefix "node" -> 12; anything else -> nullopt.
std::optional<unsigned> numbered_name(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || name.size() == prefix.size()) return std::nullopt;
  unsigned number = 0;
  const char* first = name.data() + prefix.size();
  const char* last = name.data() + name.size();
  const auto [end, error] = std::from_chars(first, last, number);
  if (error != std::errc{} || end != last) return std::nullopt;
  return number;
}

// cpu id -> NUMA node, from /sys/devices/system/node/nodeM/cpulist. Empty when
// the kernel has no NUMA support (the directory is then absent).
Result<std::vector<int>> read_node_cpulists(const fs::path& node_root, unsigned last_cpu) {
  std::vector<int> node_of_cpu(last_cpu + 1, -1);
  std::error_code error;
  fs::directory_iterator entries(node_root, error);
  if (error) return node_of_cpu;  // no NUMA information
  for (const auto& entry : entries) {
    const auto node = numbered_name(entry.path().filename().native(), "node");
    if (!node) continue;
    auto cpus = read_cpu_list_file(entry.path() / "cpulist", false);
    if (!cpus) return std::move(cpus).error();
    for (unsigned cpu : *cpus) {
      if (cpu <= last_cpu) node_of_cpu[cpu] = static_cast<int>(*node);
    }
  }
  return node_of_cpu;
}

// The cpuN/nodeM link (Documentation/ABI/stable/sysfs-devices-node), or -1.
int node_from_cpu_directory(const fs::path& cpu_directory) {
  std::error_code error;
  fs::directory_iterator entries(cpu_directory, error);
  if (error) return -1;
  for (const auto& entry : entries) {
    if (const auto node = numbered_name(entry.path().filename().native(), "node")) return static_cast<int>(*node);
  }
  return -1;
}

Result<CpuInfo> read_cpu(const fs::path& cpu_root, unsigned id, const std::vector<unsigned>& online_cpus,
                         const std::vector<int>& node_of_cpu) {
  const fs::path directory = cpu_root / fmt::format("cpu{}", id);
  CpuInfo cpu;
  cpu.id = id;
  cpu.online = cpu_list_contains(online_cpus, id);

  // cpuN/online exists only for hot-pluggable CPUs; it holds "0" or "1".
  const fs::path online_path = directory / "online";
  auto online_text = read_optional_text_file(online_path);
  if (!online_text) return std::move(online_text).error();
  if (*online_text) {
    const std::string_view value = trim(**online_text);
    if (value != "0" && value != "1") {
      return invalid_argument(fmt::format("{}: \"{}\" is neither 0 nor 1", online_path.native(), value));
    }
    cpu.online = value == "1";
  }

  const fs::path topology = directory / "topology";
  auto siblings = read_cpu_list_file(topology / "thread_siblings_list", false);
  if (!siblings) return std::move(siblings).error();
  cpu.smt_siblings = std::move(*siblings);
  auto core_id = read_int_file(topology / "core_id", -1);
  if (!core_id) return std::move(core_id).error();
  cpu.core_id = *core_id;
  auto package_id = read_int_file(topology / "physical_package_id", -1);
  if (!package_id) return std::move(package_id).error();
  cpu.package_id = *package_id;

  cpu.numa_node = node_from_cpu_directory(directory);
  if (cpu.numa_node < 0 && id < node_of_cpu.size()) cpu.numa_node = node_of_cpu[id];
  return cpu;
}

// Splits the command line into parameters as the kernel's next_arg()
// (kernel/params.c) does: whitespace separates, double quotes protect spaces
// and are dropped. Stops at "--", after which everything belongs to init.
std::vector<std::string> kernel_parameters(std::string_view cmdline) {
  std::vector<std::string> parameters;
  std::string current;
  bool in_quotes = false;
  bool has_parameter = false;
  auto finish = [&] {
    if (has_parameter) parameters.push_back(std::move(current));
    current.clear();
    has_parameter = false;
  };
  for (char c : cmdline) {
    if (c == '"') {
      in_quotes = !in_quotes;
      has_parameter = true;
    } else if (!in_quotes && (c == ' ' || c == '\t' || c == '\n')) {
      if (has_parameter && current == "--") return parameters;
      finish();
    } else {
      current += c;
      has_parameter = true;
    }
  }
  if (current != "--") finish();
  return parameters;
}

// isolcpus=[flag,...,]cpu-list: flags are words before the first token that
// does not start with a letter (kernel/sched/isolation.c,
// housekeeping_isolcpus_setup()).
Result<void> parse_isolcpus(const fs::path& path, std::string_view value, unsigned last_cpu, HostCpus& host) {
  std::size_t list_start = 0;
  while (list_start < value.size() && ((value[list_start] >= 'a' && value[list_start] <= 'z') ||
                                       (value[list_start] >= 'A' && value[list_start] <= 'Z'))) {
    const std::size_t comma = value.find(',', list_start);
    if (comma == std::string_view::npos) {
      return invalid_argument(fmt::format("{}: isolcpus=\"{}\" has no CPU list after its flags", path.native(), value));
    }
    list_start = comma + 1;
  }
  host.cmdline_isolcpus_flags = std::string(value.substr(0, list_start == 0 ? 0 : list_start - 1));
  auto cpus = cpu_list_from(fmt::format("{} isolcpus=", path.native()), value.substr(list_start), last_cpu);
  if (!cpus) return std::move(cpus).error();
  host.cmdline_isolcpus = std::move(*cpus);
  return {};
}

Result<void> parse_kernel_cmdline(const fs::path& path, std::string_view cmdline, unsigned last_cpu, HostCpus& host) {
  for (const std::string& parameter : kernel_parameters(cmdline)) {
    const auto equals = parameter.find('=');
    const std::string_view name = std::string_view(parameter).substr(0, equals);
    const std::string_view value =
        equals == std::string::npos ? std::string_view{} : std::string_view(parameter).substr(equals + 1);
    std::vector<unsigned>* list = nullptr;
    if (name == "isolcpus") {
      if (auto parsed = parse_isolcpus(path, value, last_cpu, host); !parsed) return std::move(parsed).error();
    } else if (name == "nohz_full") {
      list = &host.cmdline_nohz_full;
    } else if (name == "rcu_nocbs") {
      list = &host.cmdline_rcu_nocbs;
    } else if (name == "irqaffinity") {
      host.cmdline_irqaffinity_raw = std::string(value);
    }
    if (list != nullptr) {
      auto cpus = cpu_list_from(fmt::format("{} {}=", path.native(), name), value, last_cpu);
      if (!cpus) return std::move(cpus).error();
      *list = std::move(*cpus);
    }
  }
  return {};
}

}  // namespace

const CpuInfo* HostCpus::find(unsigned id) const {
  const auto it = std::lower_bound(cpus.begin(), cpus.end(), id, [](const CpuInfo& cpu, unsigned wanted) {
    return cpu.id < wanted;
  });
  return it != cpus.end() && it->id == id ? &*it : nullptr;
}

Result<HostCpus> read_host_cpus(const fs::path& sysfs_root, const fs::path& proc_root) {
  const fs::path cpu_root = sysfs_root / "devices/system/cpu";
  HostCpus host;

  struct ListFile {
    const char* name;
    std::vector<unsigned>* field;
    bool required;
  };
  for (const ListFile& file : {ListFile{"possible", &host.possible, true}, ListFile{"online", &host.online, true},
                               ListFile{"isolated", &host.isolated, false},
                               ListFile{"nohz_full", &host.nohz_full, false}}) {
    auto cpus = read_cpu_list_file(cpu_root / file.name, file.required);
    if (!cpus) return std::move(cpus).error();
    *file.field = std::move(*cpus);
  }
  if (host.possible.empty()) {
    return invalid_argument(fmt::format("{}: no possible CPUs listed", (cpu_root / "possible").native()));
  }
  const unsigned last_cpu = host.possible.back();

  auto node_of_cpu = read_node_cpulists(sysfs_root / "devices/system/node", last_cpu);
  if (!node_of_cpu) return std::move(node_of_cpu).error();
  host.cpus.reserve(host.possible.size());
  for (unsigned id : host.possible) {
    auto cpu = read_cpu(cpu_root, id, host.online, *node_of_cpu);
    if (!cpu) return std::move(cpu).error();
    host.cpus.push_back(std::move(*cpu));
  }

  const fs::path cmdline_path = proc_root / "cmdline";
  auto cmdline = read_optional_text_file(cmdline_path);
  if (!cmdline) return std::move(cmdline).error();
  if (*cmdline) {
    host.kernel_cmdline = std::string(trim(**cmdline));
    if (auto parsed = parse_kernel_cmdline(cmdline_path, host.kernel_cmdline, last_cpu, host); !parsed) {
      return std::move(parsed).error();
    }
  }
  return host;
}

}  // namespace aether
