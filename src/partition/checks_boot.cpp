// Status checks of boot-time isolation: the kernel, which CPUs are Aether's,
// the kernel command line, what sysfs says the kernel made of it, and SMT.
#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/plan.hpp"
#include "checks.hpp"
#include "cpu_set_ops.hpp"

namespace aether::partition::detail {
namespace {

std::string list_or_none(const std::vector<unsigned>& cpus) {
  return cpus.empty() ? std::string("none") : format_cpu_list(cpus);
}

std::string yes_no(bool value) { return value ? "yes" : "no"; }

Check kernel_check(const StatusInputs& in) {
  const KernelVersion& k = in.kernel;
  Check check{"kernel", CheckLevel::info, fmt::format("Linux {}", k.release), {}, {}};
  check.details.push_back(fmt::format("cgroup v2 isolated partitions (6.1+): {}", yes_no(has_isolated_partitions(k))));
  check.details.push_back(
      fmt::format("isolated partitions leave unbound workqueues (6.8+): {}", yes_no(partitions_exclude_workqueues(k))));
  check.details.push_back(fmt::format("isolated partitions leave timer migration (6.19+): {}",
                                      yes_no(partitions_exclude_timer_migration(k))));
  return check;
}

Check aether_check(const StatusInputs& in) {
  Check check{"aether-cpus", CheckLevel::ok, {}, {}, {}};
  if (in.aether.empty()) {
    check.level = CheckLevel::warn;
    check.finding =
        "host not partitioned: no --aether-cpus, no apply journal, no isolcpus=/nohz_full=, no isolated cpuset "
        "partition";
    const auto suggestion = suggest_aether_cpus(in.cpus);
    check.fix = suggestion.empty()
                    ? std::string("this host has a single core: nothing can be set aside for Aether")
                    : fmt::format("aether partition plan --aether-cpus {}   (or pass --aether-cpus to status)",
                                  format_cpu_list(suggestion));
    return check;
  }
  check.finding = fmt::format("Aether CPUs {} (from {}), housekeeping CPUs {}", format_cpu_list(in.aether),
                              in.aether_source, list_or_none(in.housekeeping));
  // SMT splits are reported by the smt item, so they are allowed here.
  if (auto valid = validate_aether_cpus(in.cpus, in.aether, true); !valid) {
    check.level = CheckLevel::fail;
    check.details.push_back(valid.error().message);
    check.fix = "choose other CPUs (aether partition plan --aether-cpus LIST explains the rules)";
  }
  return check;
}

// isolcpus= flags as written ("managed_irq,domain"); none means "domain".
bool has_flag(const std::string& flags, std::string_view flag) {
  std::size_t begin = 0;
  while (begin <= flags.size()) {
    const std::size_t end = std::min(flags.find(',', begin), flags.size());
    if (std::string_view(flags).substr(begin, end - begin) == flag) return true;
    begin = end + 1;
  }
  return false;
}

void cmdline_checks(const StatusInputs& in, std::vector<Check>& checks) {
  const HostCpus& cpus = in.cpus;
  const std::string aether = format_cpu_list(in.aether);
  const std::string housekeeping = format_cpu_list(in.housekeeping);
  const bool partitioned = !in.aether.empty();

  Check isolcpus{"cmdline.isolcpus", CheckLevel::ok, {}, {}, {}};
  const std::string flags = cpus.cmdline_isolcpus_flags.empty() ? std::string("domain") : cpus.cmdline_isolcpus_flags;
  isolcpus.finding = cpus.cmdline_isolcpus.empty() ? std::string("not set")
                                                   : fmt::format("isolcpus={}{}{}", cpus.cmdline_isolcpus_flags,
                                                                 cpus.cmdline_isolcpus_flags.empty() ? "" : ",",
                                                                 format_cpu_list(cpus.cmdline_isolcpus));
  const std::string wanted = fmt::format("isolcpus=managed_irq,domain,{}", aether);
  if (!partitioned) {
    isolcpus.level = CheckLevel::info;
  } else if (!cpu_subset(in.aether, cpus.cmdline_isolcpus)) {
    isolcpus.level = CheckLevel::warn;
    isolcpus.details.push_back(
        fmt::format("Aether CPUs {} are not in it", format_cpu_list(cpu_difference(in.aether, cpus.cmdline_isolcpus))));
    if (cpu_subset(in.aether, in.cpuset_isolated)) {
      isolcpus.details.push_back(
          "an isolated cpuset partition already stops load balancing on them; managed IRQs still need managed_irq");
    }
    isolcpus.fix = fmt::format("boot with {} (aether partition plan shows how)", wanted);
  } else if (!has_flag(flags, "domain") || !has_flag(flags, "managed_irq")) {
    isolcpus.level = CheckLevel::warn;
    if (!has_flag(flags, "domain"))
      isolcpus.details.push_back("no \"domain\" flag: the scheduler still balances load onto them");
    if (!has_flag(flags, "managed_irq")) {
      isolcpus.details.push_back("no \"managed_irq\" flag: multi-queue devices' managed IRQs may target them");
    }
    isolcpus.fix = fmt::format("boot with {}", wanted);
  }
  checks.push_back(std::move(isolcpus));

  Check nohz{"cmdline.nohz_full", CheckLevel::ok, {}, {}, {}};
  nohz.finding = cpus.cmdline_nohz_full.empty() ? std::string("not set")
                                                : fmt::format("nohz_full={}", format_cpu_list(cpus.cmdline_nohz_full));
  if (!partitioned) {
    nohz.level = CheckLevel::info;
  } else if (!cpu_subset(in.aether, cpus.cmdline_nohz_full)) {
    nohz.level = CheckLevel::warn;
    nohz.details.push_back(fmt::format("Aether CPUs {} are not in it",
                                       format_cpu_list(cpu_difference(in.aether, cpus.cmdline_nohz_full))));
    nohz.fix = fmt::format("boot with nohz_full={} (the tick cannot be stopped at run time)", aether);
  }
  checks.push_back(std::move(nohz));

  Check rcu{"cmdline.rcu_nocbs", CheckLevel::ok, {}, {}, {}};
  rcu.finding = cpus.cmdline_rcu_nocbs.empty() ? std::string("not set")
                                               : fmt::format("rcu_nocbs={}", format_cpu_list(cpus.cmdline_rcu_nocbs));
  const auto offloaded = cpu_union(cpus.cmdline_rcu_nocbs, cpus.cmdline_nohz_full);
  if (!partitioned) {
    rcu.level = CheckLevel::info;
  } else if (!cpu_subset(in.aether, offloaded)) {
    rcu.level = CheckLevel::warn;
    rcu.details.push_back(fmt::format("RCU callbacks still run on Aether CPUs {}",
                                      format_cpu_list(cpu_difference(in.aether, offloaded))));
    rcu.fix = fmt::format("boot with rcu_nocbs={} (nohz_full= implies it)", aether);
  } else if (!cpu_subset(in.aether, cpus.cmdline_rcu_nocbs)) {
    rcu.details.push_back("offloaded by nohz_full=, which implies rcu_nocbs= for its CPUs");
  }
  checks.push_back(std::move(rcu));

  Check irqaffinity{"cmdline.irqaffinity", CheckLevel::ok, {}, {}, {}};
  const std::string& raw = cpus.cmdline_irqaffinity_raw;
  irqaffinity.finding = raw.empty() ? std::string("not set") : fmt::format("irqaffinity={}", raw);
  const unsigned last_cpu = cpus.possible.empty() ? 0 : cpus.possible.back();
  auto irq_cpus = parse_cpu_list(raw, last_cpu);
  if (!partitioned) {
    irqaffinity.level = CheckLevel::info;
  } else if (raw.empty()) {
    irqaffinity.level = CheckLevel::warn;
    irqaffinity.details.push_back("unmanaged IRQs start with affinity to every CPU");
    irqaffinity.fix = fmt::format("boot with irqaffinity={}", housekeeping);
  } else if (!irq_cpus) {
    irqaffinity.level = CheckLevel::warn;
    irqaffinity.details.push_back(irq_cpus.error().message);
    irqaffinity.fix = fmt::format("boot with irqaffinity={}", housekeeping);
  } else if (cpu_overlap(*irq_cpus, in.aether)) {
    irqaffinity.level = CheckLevel::warn;
    irqaffinity.details.push_back(
        fmt::format("it includes Aether CPUs {}", format_cpu_list(cpu_intersection(*irq_cpus, in.aether))));
    irqaffinity.fix = fmt::format("boot with irqaffinity={}", housekeeping);
  }
  checks.push_back(std::move(irqaffinity));
}

void sysfs_checks(const StatusInputs& in, std::vector<Check>& checks) {
  const HostCpus& cpus = in.cpus;
  const bool partitioned = !in.aether.empty();
  const std::string aether = format_cpu_list(in.aether);

  Check isolated{"sysfs.isolated", CheckLevel::ok, {}, {}, {}};
  isolated.finding = fmt::format("/sys/devices/system/cpu/isolated: {}", list_or_none(cpus.isolated));
  if (!in.cpuset_isolated.empty()) {
    isolated.details.push_back(
        fmt::format("cpusets isolate CPUs {} from load balancing", format_cpu_list(in.cpuset_isolated)));
  }
  if (!partitioned) {
    isolated.level = CheckLevel::info;
  } else if (!cpu_subset(in.aether, cpu_union(cpus.isolated, in.cpuset_isolated))) {
    isolated.level = CheckLevel::fail;
    isolated.details.push_back(
        fmt::format("Aether CPUs {} take part in scheduler load balancing",
                    format_cpu_list(cpu_difference(in.aether, cpu_union(cpus.isolated, in.cpuset_isolated)))));
    isolated.fix = fmt::format(
        "boot with isolcpus=managed_irq,domain,{0}, or at run time: aether partition apply --aether-cpus {0}", aether);
  }
  if (!cpus.cmdline_isolcpus.empty() && cpus.isolated != cpus.cmdline_isolcpus && !cpus.isolated.empty()) {
    isolated.details.push_back(
        fmt::format("differs from isolcpus= on the command line ({})", format_cpu_list(cpus.cmdline_isolcpus)));
  }
  checks.push_back(std::move(isolated));

  Check nohz{"sysfs.nohz_full", CheckLevel::ok, {}, {}, {}};
  const bool nohz_file = in.nohz_full_file;
  nohz.finding = nohz_file ? fmt::format("/sys/devices/system/cpu/nohz_full: {}", list_or_none(cpus.nohz_full))
                           : std::string("/sys/devices/system/cpu/nohz_full absent: kernel without CONFIG_NO_HZ_FULL");
  if (!partitioned) {
    nohz.level = CheckLevel::info;
  } else if (!nohz_file) {
    nohz.level = CheckLevel::fail;
    nohz.details.push_back(fmt::format("the scheduler tick interrupts Aether CPUs {} at CONFIG_HZ", aether));
    nohz.fix =
        "use a kernel built with CONFIG_NO_HZ_FULL=y (Debian's and RHEL's are) and boot it with nohz_full=" + aether;
  } else if (!cpu_subset(in.aether, cpus.nohz_full)) {
    nohz.level = CheckLevel::fail;
    nohz.details.push_back(fmt::format("the scheduler tick interrupts Aether CPUs {} at CONFIG_HZ",
                                       format_cpu_list(cpu_difference(in.aether, cpus.nohz_full))));
    nohz.fix = fmt::format("boot with nohz_full={} (boot-time only)", aether);
  }
  if (!cpus.cmdline_nohz_full.empty() && nohz_file && cpus.nohz_full != cpus.cmdline_nohz_full) {
    nohz.details.push_back(
        fmt::format("differs from nohz_full= on the command line ({}); the boot CPU is always left out",
                    format_cpu_list(cpus.cmdline_nohz_full)));
  }
  checks.push_back(std::move(nohz));
}

Check smt_check(const StatusInputs& in) {
  Check check{"smt", CheckLevel::ok, {}, {}, {}};
  bool any_smt = false;
  std::vector<unsigned> host_siblings;
  for (const CpuInfo& cpu : in.cpus.cpus) {
    if (cpu.smt_siblings.size() > 1) any_smt = true;
    if (!cpu_list_contains(in.aether, cpu.id)) continue;
    for (unsigned sibling : cpu.smt_siblings) {
      if (cpu_list_contains(in.aether, sibling)) continue;
      host_siblings.push_back(sibling);
      check.details.push_back(fmt::format("Aether CPU {} shares its core with host CPU {}", cpu.id, sibling));
    }
  }
  if (!any_smt) {
    check.level = in.aether.empty() ? CheckLevel::info : CheckLevel::ok;
    check.finding = "no SMT siblings (SMT off or absent)";
  } else if (in.aether.empty()) {
    check.level = CheckLevel::info;
    check.finding = "SMT on";
  } else if (host_siblings.empty()) {
    check.finding = "SMT on; every Aether CPU's sibling is an Aether CPU too";
  } else {
    check.level = CheckLevel::warn;
    std::sort(host_siblings.begin(), host_siblings.end());
    const std::string siblings = format_cpu_list(host_siblings);
    check.finding = fmt::format("host CPUs {} share cores (caches, execution units) with Aether CPUs", siblings);
    check.fix = fmt::format(
        "add {0} to the Aether CPUs, or take them offline (echo 0 > "
        "/sys/devices/system/cpu/cpuN/online for N in {0}), or boot with nosmt",
        siblings);
  }
  return check;
}

}  // namespace

void check_boot(const StatusInputs& inputs, std::vector<Check>& checks) {
  checks.push_back(kernel_check(inputs));
  checks.push_back(aether_check(inputs));
  cmdline_checks(inputs, checks);
  sysfs_checks(inputs, checks);
  checks.push_back(smt_check(inputs));
}

}  // namespace aether::partition::detail
