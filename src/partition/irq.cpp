// Reading IRQ affinities from /proc/irq and /proc/interrupts.
#include "aether/partition/irq.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/cpu_mask.hpp"

namespace aether::partition {
namespace {

std::optional<unsigned> whole_number(std::string_view text) {
  unsigned number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return number;
}

std::vector<std::string_view> split_blanks(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t position = 0;
  while (position < line.size()) {
    const std::size_t begin = line.find_first_not_of(" \t", position);
    if (begin == std::string_view::npos) break;
    const std::size_t end = line.find_first_of(" \t", begin);
    words.push_back(line.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    position = end == std::string_view::npos ? line.size() : end;
  }
  return words;
}

Result<std::vector<unsigned>> read_list(const HostAccess& host, const std::string& path, bool& missing) {
  auto text = host.read(path);
  if (!text) return std::move(text).error();
  missing = !*text;
  if (missing) return std::vector<unsigned>{};
  auto cpus = parse_cpu_list(**text);
  if (!cpus) return invalid_argument(fmt::format("{}: {}", path, cpus.error().message));
  return cpus;
}

}  // namespace

std::vector<InterruptCounts> parse_proc_interrupts(std::string_view text) {
  std::vector<InterruptCounts> rows;
  std::vector<unsigned> column_cpus;
  bool header = true;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    const auto words = split_blanks(line);
    if (words.empty()) continue;
    if (header) {  // "CPU0 CPU1 ...": offline CPUs have no column
      for (std::string_view word : words) {
        if (word.starts_with("CPU")) {
          if (auto cpu = whole_number(word.substr(3))) column_cpus.push_back(*cpu);
        }
      }
      header = false;
      continue;
    }
    if (!words[0].ends_with(':')) continue;
    const auto irq = whole_number(words[0].substr(0, words[0].size() - 1));
    if (!irq) continue;  // NMI:, LOC:, ... are per-CPU system vectors, not /proc/irq entries
    InterruptCounts row;
    row.irq = *irq;
    std::size_t word = 1;
    for (std::size_t column = 0; column < column_cpus.size() && word < words.size(); ++column, ++word) {
      std::uint64_t count = 0;
      const auto [end, error] = std::from_chars(words[word].data(), words[word].data() + words[word].size(), count);
      if (error != std::errc{} || end != words[word].data() + words[word].size()) break;
      row.counts.emplace_back(column_cpus[column], count);
    }
    // The rest (chip, hardware IRQ, handlers), its column padding collapsed.
    for (; word < words.size(); ++word) {
      if (!row.description.empty()) row.description += ' ';
      row.description += words[word];
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<IrqTable> read_irqs(const HostAccess& host) {
  IrqTable table;
  auto default_text = host.read("/proc/irq/default_smp_affinity");
  if (!default_text) return std::move(default_text).error();
  if (*default_text) {
    table.default_affinity_text = std::string(trim_blanks(**default_text));
    auto cpus = parse_cpu_mask(table.default_affinity_text);
    if (!cpus) return invalid_argument(fmt::format("/proc/irq/default_smp_affinity: {}", cpus.error().message));
    table.default_affinity = std::move(*cpus);
  }

  std::vector<InterruptCounts> counts;
  if (auto text = host.read("/proc/interrupts"); text && *text) counts = parse_proc_interrupts(**text);
  table.managed_flags_visible = host.is_directory("/sys/kernel/debug/irq/irqs");

  for (const std::string& entry : host.list_directory("/proc/irq")) {
    const auto number = whole_number(entry);
    if (!number) continue;
    const std::string directory = fmt::format("/proc/irq/{}", *number);
    IrqInfo irq;
    irq.number = *number;
    bool missing = false;
    auto affinity = read_list(host, directory + "/smp_affinity_list", missing);
    if (!affinity) return std::move(affinity).error();
    if (missing) continue;
    irq.affinity = std::move(*affinity);
    auto effective = read_list(host, directory + "/effective_affinity_list", missing);
    if (!effective) return std::move(effective).error();
    if (!missing) irq.effective = std::move(*effective);

    // Handler directories: everything in /proc/irq/N that is a directory.
    std::string names;
    for (const std::string& name : host.list_directory(directory)) {
      if (!host.is_directory(directory + "/" + name)) continue;
      if (!names.empty()) names += ',';
      names += name;
    }
    const auto row = std::find_if(counts.begin(), counts.end(), [&](const auto& r) { return r.irq == *number; });
    if (row != counts.end()) irq.counts = row->counts;
    irq.name = !names.empty() ? names : row != counts.end() ? row->description : std::string("(no handler)");

    if (table.managed_flags_visible) {
      const auto flags = host.read_trimmed(fmt::format("/sys/kernel/debug/irq/irqs/{}", *number));
      if (flags) {
        irq.managed =
            flags->find("IRQD_AFFINITY_MANAGED") != std::string::npos ? IrqManaged::managed : IrqManaged::unmanaged;
      }
    }
    table.irqs.push_back(std::move(irq));
  }
  std::sort(table.irqs.begin(), table.irqs.end(),
            [](const IrqInfo& a, const IrqInfo& b) { return a.number < b.number; });
  return table;
}

}  // namespace aether::partition
