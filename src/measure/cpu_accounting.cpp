#include "aether/measure/cpu_accounting.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/text_file.hpp"

namespace aether::measure {
namespace {

// /proc/stat counts in USER_HZ, which the kernel fixes at 100 for user space
// (proc(5), "sysconf(_SC_CLK_TCK)"; it is 100 on every Linux architecture).
constexpr double user_hz = 100.0;

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end == text.data()) return std::nullopt;
  return value;
}

// The next space-separated field of `text` from `position`.
std::string_view next_field(std::string_view text, std::size_t& position) {
  while (position < text.size() && (text[position] == ' ' || text[position] == '\t')) ++position;
  const std::size_t start = position;
  while (position < text.size() && text[position] != ' ' && text[position] != '\t' && text[position] != '\n') ++position;
  return text.substr(start, position - start);
}

std::string read_or_empty(const std::filesystem::path& path) {
  auto text = detail::read_optional_text_file(path);
  return text && *text ? std::move(**text) : std::string();
}

void sample_process(pid_t pid, std::vector<ThreadSample>& out) {
  const std::filesystem::path tasks = fmt::format("/proc/{}/task", pid);
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
    ThreadSample sample;
    sample.pid = pid;
    const auto tid = parse_u64(task.path().filename().native());
    if (!tid) continue;
    sample.tid = static_cast<pid_t>(*tid);
    const auto schedstat = parse_schedstat(read_or_empty(task.path() / "schedstat"));
    if (!schedstat) continue;  // gone meanwhile
    sample.run_ns = schedstat->first;
    sample.wait_ns = schedstat->second;
    const std::string status = read_or_empty(task.path() / "status");
    sample.voluntary_switches = parse_status_value(status, "voluntary_ctxt_switches").value_or(0);
    sample.involuntary_switches = parse_status_value(status, "nonvoluntary_ctxt_switches").value_or(0);
    sample.last_cpu = parse_stat_last_cpu(read_or_empty(task.path() / "stat")).value_or(-1);
    sample.name = std::string(detail::trim(read_or_empty(task.path() / "comm")));
    out.push_back(std::move(sample));
  }
}

std::string percent(double share) { return fmt::format("{:.1f}%", 100.0 * share); }

}  // namespace

std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_schedstat(std::string_view text) {
  std::size_t position = 0;
  const auto run = parse_u64(next_field(text, position));
  const auto wait = parse_u64(next_field(text, position));
  if (!run || !wait) return std::nullopt;
  return std::pair{*run, *wait};
}

std::optional<std::uint64_t> parse_status_value(std::string_view status, std::string_view key) {
  std::size_t line_start = 0;
  while (line_start < status.size()) {
    std::size_t line_end = status.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = status.size();
    const std::string_view line = status.substr(line_start, line_end - line_start);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      return parse_u64(detail::trim(line.substr(key.size() + 1)));
    }
    line_start = line_end + 1;
  }
  return std::nullopt;
}

std::optional<int> parse_stat_last_cpu(std::string_view stat) {
  // "pid (comm) state ..." : fields after the comm start at field 3; the
  // comm ends at the last ')'.
  const std::size_t comm_end = stat.rfind(')');
  if (comm_end == std::string_view::npos) return std::nullopt;
  std::size_t position = comm_end + 1;
  std::string_view field;
  for (int number = 3; number <= 39; ++number) {
    field = next_field(stat, position);
    if (field.empty()) return std::nullopt;
  }
  const auto cpu = parse_u64(field);
  if (!cpu) return std::nullopt;
  return static_cast<int>(*cpu);
}

std::vector<CpuTicks> parse_proc_stat_cpus(std::string_view text) {
  std::vector<CpuTicks> cpus;
  std::size_t line_start = 0;
  while (line_start < text.size()) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    const std::string_view line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    // "cpuN user nice system idle iowait irq softirq steal guest guest_nice"
    if (line.size() < 4 || line.substr(0, 3) != "cpu" || line[3] < '0' || line[3] > '9') continue;
    std::size_t position = 0;
    const std::string_view name = next_field(line, position);
    const auto cpu = parse_u64(name.substr(3));
    std::uint64_t fields[8] = {};
    bool complete = cpu.has_value();
    for (auto& value : fields) {
      const auto parsed = parse_u64(next_field(line, position));
      if (!parsed) {
        complete = false;
        break;
      }
      value = *parsed;
    }
    if (!complete) continue;
    CpuTicks ticks;
    ticks.cpu = static_cast<unsigned>(*cpu);
    ticks.busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6];
    ticks.idle = fields[3] + fields[4];
    ticks.steal = fields[7];
    cpus.push_back(ticks);
  }
  return cpus;
}

CpuSnapshot take_cpu_snapshot(std::span<const pid_t> pids) {
  CpuSnapshot snapshot;
  snapshot.time = std::chrono::steady_clock::now();
  for (const pid_t pid : pids) sample_process(pid, snapshot.threads);
  snapshot.cpus = parse_proc_stat_cpus(read_or_empty("/proc/stat"));
  return snapshot;
}

const ThreadUsage* CpuAccounting::thread(std::string_view name) const noexcept {
  for (const auto& usage : threads) {
    if (usage.name == name) return &usage;
  }
  return nullptr;
}

CpuAccounting account_cpu_time(const CpuSnapshot& before, const CpuSnapshot& after, std::span<const unsigned> cpus) {
  CpuAccounting out;
  out.seconds = std::chrono::duration<double>(after.time - before.time).count();
  std::map<pid_t, const ThreadSample*> earlier;
  for (const auto& sample : before.threads) earlier[sample.tid] = &sample;
  for (const auto& sample : after.threads) {
    const auto found = earlier.find(sample.tid);
    const ThreadSample zero;
    const ThreadSample& first = found != earlier.end() ? *found->second : zero;
    ThreadUsage usage{sample.pid, sample.tid, sample.name, sample.last_cpu, sample.run_ns - first.run_ns,
                      sample.wait_ns - first.wait_ns, sample.voluntary_switches - first.voluntary_switches,
                      sample.involuntary_switches - first.involuntary_switches};
    if (usage.run_ns == 0 && usage.wait_ns == 0) continue;
    out.threads.push_back(std::move(usage));
  }
  std::sort(out.threads.begin(), out.threads.end(), [](const auto& a, const auto& b) { return a.run_ns > b.run_ns; });
  const double window_ns = out.seconds * 1e9;
  for (const unsigned cpu : cpus) {
    CpuShare share;
    share.cpu = cpu;
    const auto ticks_of = [cpu](const CpuSnapshot& snapshot) -> const CpuTicks* {
      for (const auto& ticks : snapshot.cpus) {
        if (ticks.cpu == cpu) return &ticks;
      }
      return nullptr;
    };
    const CpuTicks* first = ticks_of(before);
    const CpuTicks* last = ticks_of(after);
    if (first != nullptr && last != nullptr && out.seconds > 0) {
      share.busy = static_cast<double>(last->busy - first->busy) / user_hz / out.seconds;
      share.steal = static_cast<double>(last->steal - first->steal) / user_hz / out.seconds;
    }
    for (const auto& usage : out.threads) {
      if (usage.cpu == static_cast<int>(cpu) && window_ns > 0) share.tracked += static_cast<double>(usage.run_ns) / window_ns;
    }
    share.others = std::max(0.0, share.busy - share.tracked);
    out.cpus.push_back(share);
  }
  return out;
}

std::string format_cpu_accounting(const CpuAccounting& accounting, std::string_view indent) {
  std::string out;
  const double window_ns = accounting.seconds * 1e9;
  if (window_ns <= 0) return out;
  for (const auto& share : accounting.cpus) {
    out += fmt::format("{}CPU {}: busy {}, steal {}:", indent, share.cpu, percent(share.busy), percent(share.steal));
    for (const auto& usage : accounting.threads) {
      if (usage.cpu != static_cast<int>(share.cpu)) continue;
      const double run = static_cast<double>(usage.run_ns) / window_ns;
      if (run < 0.001 && usage.involuntary_switches == 0) continue;
      out += fmt::format(" {} {} (waited {}, {} preemptions, {} sleeps);", usage.name, percent(run),
                         percent(static_cast<double>(usage.wait_ns) / window_ns), usage.involuntary_switches,
                         usage.voluntary_switches);
    }
    out += fmt::format(" other tasks ~{}\n", percent(share.others));
  }
  return out;
}

nlohmann::json cpu_accounting_to_json(const CpuAccounting& accounting) {
  nlohmann::json threads = nlohmann::json::array();
  for (const auto& usage : accounting.threads) {
    threads.push_back({{"pid", usage.pid}, {"tid", usage.tid}, {"name", usage.name}, {"cpu", usage.cpu},
                       {"run_ns", usage.run_ns}, {"wait_ns", usage.wait_ns},
                       {"voluntary_switches", usage.voluntary_switches},
                       {"involuntary_switches", usage.involuntary_switches}});
  }
  nlohmann::json cpus = nlohmann::json::array();
  for (const auto& share : accounting.cpus) {
    cpus.push_back({{"cpu", share.cpu}, {"busy", share.busy}, {"steal", share.steal}, {"tracked_threads", share.tracked},
                    {"other_tasks", share.others}});
  }
  return {{"seconds", accounting.seconds}, {"threads", threads}, {"cpus", cpus}};
}

}  // namespace aether::measure
