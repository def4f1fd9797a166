// The host's measurements, read through the partition module's readers
// (irq.hpp, knobs.hpp, cgroup.hpp) so that nothing is parsed twice.
#include "aether/attest/measurements.hpp"

#include <algorithm>

#include "aether/attest/device_measurement.hpp"
#include "aether/core/cpu_list.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/irq.hpp"
#include "aether/partition/knobs.hpp"
#include "aether/vfio/pci_sysfs.hpp"
#include "try.hpp"

namespace aether::attest {
namespace {

using partition::HostAccess;

std::string value_or_absent(const HostAccess& host, std::string_view logical) {
  return host.read_trimmed(logical).value_or("absent");
}

std::string measure_cpus(const HostAccess& host) {
  std::string text;
  for (const char* name : {"online", "isolated", "nohz_full"}) {
    text += fmt::format("{} {}\n", name, value_or_absent(host, fmt::format("/sys/devices/system/cpu/{}", name)));
  }
  return text;
}

std::string measure_cpuset(const HostAccess& host) {
  const partition::CpusetState state = partition::read_cpuset_state(host);
  std::string text;
  for (const auto& cpuset : state.partitions) {
    text += fmt::format("v2 {} {} cpus {}\n", cpuset.path, cpuset.state, format_cpu_list(cpuset.cpus));
  }
  if (state.v2_isolated) text += fmt::format("v2 isolated {}\n", format_cpu_list(*state.v2_isolated));
  for (const auto& cpuset : state.v1_children) {
    if (!cpuset.cpu_exclusive && cpuset.load_balance) continue;  // ordinary cpusets: not the partition
    text += fmt::format("v1 {} cpus {} exclusive {} load_balance {}\n", cpuset.path, format_cpu_list(cpuset.cpus),
                        cpuset.cpu_exclusive, cpuset.load_balance);
  }
  text += fmt::format("isolated_by_cpusets {}\n", format_cpu_list(state.isolated_cpus()));
  return text;
}

Result<std::string> measure_irqs(const HostAccess& host) {
  AETHER_TRY(const partition::IrqTable table, partition::read_irqs(host));
  std::string text = fmt::format("default {}\n", table.default_affinity_text);
  for (const auto& irq : table.irqs) text += fmt::format("irq {} {}\n", irq.number, format_cpu_list(irq.affinity));
  return text;
}

std::string optional_int(const std::optional<int>& value) { return value ? std::to_string(*value) : "absent"; }

std::string measure_rt(const partition::HostKnobs& knobs) {
  return fmt::format("sched_rt_runtime_us {}\nsched_rt_period_us {}\n", optional_int(knobs.rt_runtime_us),
                     optional_int(knobs.rt_period_us));
}

std::string measure_workqueue(const partition::HostKnobs& knobs) {
  if (!knobs.workqueue) return "cpumask absent\n";
  return fmt::format("cpumask {}\n", format_cpu_list(knobs.workqueue->effective));
}

std::string measure_cpuidle(const partition::HostKnobs& knobs) {
  std::string text = fmt::format("driver {}\ngovernor {}\n", knobs.cpuidle_driver.value_or("absent"),
                                 knobs.cpuidle_governor.value_or("absent"));
  for (const auto& cpu : knobs.cpu_power) {
    for (const auto& state : cpu.idle_states) {
      text += fmt::format("cpu{} {} disabled {}\n", cpu.cpu, state.name, state.disabled ? 1 : 0);
    }
  }
  return text;
}

std::string measure_iommu(const HostAccess& host) {
  std::string text = "units";
  const auto units = host.list_directory("/sys/class/iommu");
  for (const auto& unit : units) text += " " + unit;
  text += units.empty() ? " none\n" : "\n";
  auto groups = host.list_directory("/sys/kernel/iommu_groups");
  std::sort(groups.begin(), groups.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;  // numeric order
  });
  text += fmt::format("groups {}\n", groups.size());
  for (const auto& group : groups) {
    text += fmt::format("group {} type {}\n", group, value_or_absent(host, "/sys/kernel/iommu_groups/" + group + "/type"));
  }
  return text;
}

// Every function bound to vfio-pci plus the ones asked for, by address.
Result<std::vector<vfio::PciAddress>> passthrough_devices(const vfio::PciSysfs& pci, const MeasureOptions& options) {
  std::vector<vfio::PciAddress> devices = options.devices;
  auto functions = pci.list();
  if (functions) {
    for (const auto& function : *functions) {
      if (function.driver == "vfio-pci") devices.push_back(function.address);
    }
  }  // no bus/pci (a container): only the listed devices, whose read names the problem
  std::sort(devices.begin(), devices.end(),
            [](const auto& a, const auto& b) { return a.to_string() < b.to_string(); });
  devices.erase(std::unique(devices.begin(), devices.end(),
                            [](const auto& a, const auto& b) { return a.to_string() == b.to_string(); }),
                devices.end());
  return devices;
}

}  // namespace

Result<EventLog> measure_host(const MeasureOptions& options) {
  const HostAccess host(options.roots);
  EventLog log;
  auto add = [&log](std::string name, std::string data) { log.events.push_back(make_event(std::move(name), std::move(data))); };

  Sha256 binary{};
  if (options.binary_digest) {
    binary = *options.binary_digest;
  } else {
    AETHER_TRY(binary, sha256_file(options.binary, options.binary.string()));
  }
  add("aether.binary", "sha256 " + to_hex(binary) + "\n");
  if (options.config.empty()) {
    add("aether.config", "none\n");
  } else {
    AETHER_TRY(const Sha256 config, sha256_file(options.config, "config file " + options.config.string()));
    add("aether.config", "sha256 " + to_hex(config) + "\n");
  }

  add("partition.cmdline", value_or_absent(host, "/proc/cmdline") + "\n");
  add("partition.cpus", measure_cpus(host));
  add("partition.cpuset", measure_cpuset(host));
  AETHER_TRY(std::string irqs, measure_irqs(host));
  add("partition.irqs", std::move(irqs));
  std::vector<unsigned> online;
  if (auto list = parse_cpu_list(value_or_absent(host, "/sys/devices/system/cpu/online"))) online = std::move(*list);
  const partition::HostKnobs knobs = partition::read_host_knobs(host, online);
  add("partition.rt", measure_rt(knobs));
  add("partition.workqueue", measure_workqueue(knobs));
  add("partition.cpuidle", measure_cpuidle(knobs));
  add("iommu", measure_iommu(host));

  const vfio::PciSysfs pci(options.roots.sysfs.string());
  AETHER_TRY(const auto devices, passthrough_devices(pci, options));
  const DriverViewReader read_view =
      options.driver_view_reader ? options.driver_view_reader : [&options](const vfio::PciFunction& function) {
        return read_driver_view(function, options.roots.sysfs.string());
      };
  for (const auto& address : devices) {
    auto device = measure_device(pci, address, read_view);
    if (!device) return Error{device.error().code, fmt::format("device {}: {}", address.to_string(), device.error().message)};
    add("device." + address.to_string(), std::move(*device));
  }
  return log;
}

Result<void> check_devices_still_present(const EventLog& log, const MeasureOptions& options) {
  const vfio::PciSysfs pci(options.roots.sysfs.string());
  constexpr std::string_view prefix = "device.";
  for (const Event& event : log.events) {
    if (!event.name.starts_with(prefix)) continue;
    const std::string bdf = event.name.substr(prefix.size());
    const auto address = vfio::PciAddress::parse(bdf);
    if (!address || !pci.read(*address)) {
      return Error{std::make_error_code(std::errc::no_such_device),
                   fmt::format("device {} disappeared between measurement and quote; the quote would describe a "
                               "device that is gone, so it was not written",
                               bdf)};
    }
  }
  return {};
}

}  // namespace aether::attest
