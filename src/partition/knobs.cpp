// Reading the latency-relevant sysctls and sysfs settings.
#include "aether/partition/knobs.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/core/thread_setup.hpp"
#include "aether/partition/cpu_mask.hpp"

namespace aether::partition {
namespace {

template <class Number>
std::optional<Number> read_number(const HostAccess& host, const std::string& path) {
  const auto text = host.read_trimmed(path);
  if (!text) return std::nullopt;
  Number number{};
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), number);
  if (text->empty() || error != std::errc{} || end != text->data() + text->size()) return std::nullopt;
  return number;
}

std::optional<std::vector<unsigned>> read_mask(const HostAccess& host, const std::string& path) {
  const auto text = host.read_trimmed(path);
  if (!text) return std::nullopt;
  auto cpus = parse_cpu_mask(*text);
  if (!cpus) return std::nullopt;
  return std::move(*cpus);
}

std::vector<HugePagePool> read_huge_pages(const HostAccess& host) {
  std::vector<HugePagePool> pools;
  constexpr std::string_view root = "/sys/kernel/mm/hugepages";
  for (const std::string& name : host.list_directory(root)) {
    // "hugepages-2048kB"
    if (!name.starts_with("hugepages-") || !name.ends_with("kB")) continue;
    const std::string_view size = std::string_view(name).substr(10, name.size() - 12);
    HugePagePool pool;
    const auto [end, error] = std::from_chars(size.data(), size.data() + size.size(), pool.page_kib);
    if (error != std::errc{} || end != size.data() + size.size()) continue;
    const std::string directory = fmt::format("{}/{}", root, name);
    pool.total = read_number<std::uint64_t>(host, directory + "/nr_hugepages").value_or(0);
    pool.free = read_number<std::uint64_t>(host, directory + "/free_hugepages").value_or(0);
    pools.push_back(pool);
  }
  std::sort(pools.begin(), pools.end(), [](const auto& a, const auto& b) { return a.page_kib < b.page_kib; });
  return pools;
}

CpuPower read_cpu_power(const HostAccess& host, unsigned cpu) {
  CpuPower power;
  power.cpu = cpu;
  const std::string directory = fmt::format("/sys/devices/system/cpu/cpu{}", cpu);
  power.governor = host.read_trimmed(directory + "/cpufreq/scaling_governor");
  for (unsigned state = 0;; ++state) {
    const std::string state_directory = fmt::format("{}/cpuidle/state{}", directory, state);
    auto name = host.read_trimmed(state_directory + "/name");
    if (!name) break;
    IdleState idle;
    idle.name = std::move(*name);
    idle.exit_latency_us = read_number<std::uint64_t>(host, state_directory + "/latency").value_or(0);
    idle.disabled = host.read_trimmed(state_directory + "/disable").value_or("0") == "1";
    power.idle_states.push_back(std::move(idle));
  }
  return power;
}

}  // namespace

std::string selected_word(std::string_view text) {
  const std::size_t open = text.find('[');
  const std::size_t close = text.find(']', open == std::string_view::npos ? 0 : open);
  if (open == std::string_view::npos || close == std::string_view::npos) return std::string(trim_blanks(text));
  return std::string(text.substr(open + 1, close - open - 1));
}

HostKnobs read_host_knobs(const HostAccess& host, const std::vector<unsigned>& cpus) {
  HostKnobs knobs;
  if (auto runtime = read_rt_runtime_us(host.roots().proc)) knobs.rt_runtime_us = *runtime;
  knobs.rt_period_us = read_number<int>(host, "/proc/sys/kernel/sched_rt_period_us");
  knobs.timer_migration = read_number<int>(host, "/proc/sys/kernel/timer_migration");
  knobs.stat_interval = read_number<int>(host, "/proc/sys/vm/stat_interval");
  if (auto thp = host.read_trimmed("/sys/kernel/mm/transparent_hugepage/enabled"))
    knobs.thp_enabled = selected_word(*thp);
  knobs.huge_pages = read_huge_pages(host);
  knobs.cpuidle_driver = host.read_trimmed("/sys/devices/system/cpu/cpuidle/current_driver");
  knobs.cpuidle_governor = host.read_trimmed("/sys/devices/system/cpu/cpuidle/current_governor_ro");
  if (!knobs.cpuidle_governor)
    knobs.cpuidle_governor = host.read_trimmed("/sys/devices/system/cpu/cpuidle/current_governor");
  for (unsigned cpu : cpus) knobs.cpu_power.push_back(read_cpu_power(host, cpu));

  constexpr std::string_view workqueue = "/sys/devices/virtual/workqueue";
  if (auto effective = read_mask(host, fmt::format("{}/cpumask", workqueue))) {
    WorkqueueMask mask;
    mask.effective = std::move(*effective);
    mask.requested = read_mask(host, fmt::format("{}/cpumask_requested", workqueue));
    mask.isolated = read_mask(host, fmt::format("{}/cpumask_isolated", workqueue));
    knobs.workqueue = std::move(mask);
  }

  if (host.is_directory("/sys/kernel/iommu_groups")) {
    knobs.iommu_groups = static_cast<unsigned>(host.list_directory("/sys/kernel/iommu_groups").size());
  }
  knobs.iommus = host.list_directory("/sys/class/iommu");
  return knobs;
}

}  // namespace aether::partition
