#include "aether/fluid/telemetry.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "aether/core/text_file.hpp"
#include "aether/fluid/syscall_class.hpp"

extern "C" {
#include "telemetry_counters.h"
}
// The generated skeleton is C written for C and C++; our warning set is stricter.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wpedantic"
#include "fluid_telemetry.skel.h"
#pragma GCC diagnostic pop

namespace aether::fluid {
namespace {

// The kernel and user space must agree on the per-CPU slot (STYLE.md 7).
static_assert(offsetof(fluid_counters, syscalls) == 0);
static_assert(offsetof(fluid_counters, user_page_faults) == 8 * FLUID_SYSCALL_CLASSES);
static_assert(offsetof(fluid_counters, softirq_entry_ns) == 8 * (FLUID_SYSCALL_CLASSES + 6));
static_assert(sizeof(fluid_counters) == 8 * (FLUID_SYSCALL_CLASSES + 7));
static_assert(FLUID_SYSCALL_CLASSES == syscall_class_count);
static_assert(FLUID_SYSCALL_TABLE_SIZE == syscall_table_size);

// libbpf's own log, kept for the error message of a failed load.
thread_local std::string libbpf_log;
int capture_libbpf_log(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  const int length = std::vsnprintf(line, sizeof line, format, args);
  if (length > 0 && libbpf_log.size() < 8192) libbpf_log.append(line);
  return length;
}

// CapEff from /proc/self/status; 0 when unreadable.
std::uint64_t effective_capabilities() {
  auto status = detail::read_text_file("/proc/self/status");
  if (!status) return 0;
  const auto at = status->find("CapEff:");
  if (at == std::string::npos) return 0;
  return std::strtoull(status->c_str() + at + 7, nullptr, 16);
}

std::string hint_for_errno(int error) {
  switch (error) {
    case EPERM:
      return "not permitted: tracing BPF programs need CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); run as root";
    case EACCES:
      return "access denied (kernel.perf_event_paranoid or an LSM refused)";
    case ENOENT:
      return "a tracepoint or BTF type is missing from this kernel";
    default:
      return "";
  }
}

Error load_error(const char* step, int error) {
  std::string message = fmt::format("fluid telemetry: {} failed", step);
  if (const std::string hint = hint_for_errno(error); !hint.empty()) message += ": " + hint;
  if (!libbpf_log.empty()) message += fmt::format("\nlibbpf said:\n{}", detail::trim(libbpf_log));
  return errno_error(std::move(message), error);
}

}  // namespace

std::string bpf_unavailable_reason(const std::string& btf_path) {
  std::error_code ignored;
  if (!std::filesystem::exists(btf_path, ignored)) {
    return fmt::format("BTF missing: {} does not exist (the kernel needs CONFIG_DEBUG_INFO_BTF=y)", btf_path);
  }
  const std::uint64_t caps = effective_capabilities();
  const auto has = [caps](int cap) { return ((caps >> cap) & 1) != 0; };
  if (has(CAP_SYS_ADMIN)) return "";
  std::string missing;
  if (!has(CAP_BPF)) missing = "CAP_BPF";
  if (!has(CAP_PERFMON)) missing += missing.empty() ? "CAP_PERFMON" : " and CAP_PERFMON";
  if (missing.empty()) return "";
  return fmt::format("BPF not permitted: this process lacks {} (effective capabilities 0x{:x}); run as root", missing,
                     caps);
}

void Telemetry::SkeletonDeleter::operator()(::fluid_telemetry* skeleton) const noexcept {
  // Detaches every link, then closes every program and map fd.
  fluid_telemetry__destroy(skeleton);
}

Telemetry::Telemetry(std::unique_ptr<::fluid_telemetry, SkeletonDeleter> skeleton) noexcept
    : skeleton_(std::move(skeleton)), possible_cpus_(libbpf_num_possible_cpus()) {}
Telemetry::Telemetry(Telemetry&&) noexcept = default;
Telemetry& Telemetry::operator=(Telemetry&&) noexcept = default;
Telemetry::~Telemetry() = default;

Result<Telemetry> Telemetry::open() {
  if (const std::string reason = bpf_unavailable_reason(); !reason.empty()) {
    return Error{std::make_error_code(std::errc::operation_not_permitted), reason};
  }
  libbpf_log.clear();
  libbpf_set_print(capture_libbpf_log);
  std::unique_ptr<::fluid_telemetry, SkeletonDeleter> skeleton(fluid_telemetry__open());
  if (!skeleton) return load_error("opening the BPF object", errno);
  const auto table = syscall_class_table_x86_64();
  std::memcpy(const_cast<std::uint8_t*>(skeleton->rodata->syscall_class_of), table.data(), table.size());
  if (const int error = fluid_telemetry__load(skeleton.get()); error != 0) return load_error("loading the BPF programs", -error);
  if (const int error = fluid_telemetry__attach(skeleton.get()); error != 0) return load_error("attaching the BPF programs", -error);
  Telemetry telemetry(std::move(skeleton));
  if (telemetry.possible_cpus_ <= 0) return errno_error("fluid telemetry: cannot count the possible CPUs", -telemetry.possible_cpus_);
  return telemetry;
}

Result<void> Telemetry::set_watched(pid_t tgid, bool watched) {
  if (tgid <= 0 || static_cast<std::uint64_t>(tgid) >= std::uint64_t{FLUID_TGID_WORDS} * 64) {
    return invalid_argument(fmt::format("fluid telemetry: tgid {} is outside 1..{}", tgid, FLUID_TGID_WORDS * 64 - 1));
  }
  // Read-modify-write of one bitmap word; only this (control) thread writes
  // the map, and a BPF reader sees the word before or after the update.
  const std::uint32_t word = static_cast<std::uint32_t>(tgid) / 64;
  std::uint64_t bits = 0;
  if (bpf_map__lookup_elem(skeleton_->maps.watched_tgids, &word, sizeof word, &bits, sizeof bits, 0) != 0) {
    return errno_error(fmt::format("fluid telemetry: cannot read the filter word of tgid {}", tgid));
  }
  const std::uint64_t bit = std::uint64_t{1} << (static_cast<std::uint32_t>(tgid) % 64);
  bits = watched ? (bits | bit) : (bits & ~bit);
  if (bpf_map__update_elem(skeleton_->maps.watched_tgids, &word, sizeof word, &bits, sizeof bits, BPF_ANY) != 0) {
    return errno_error(fmt::format("fluid telemetry: cannot {} tgid {}", watched ? "watch" : "stop watching", tgid));
  }
  return {};
}

Result<void> Telemetry::watch(pid_t tgid) { return set_watched(tgid, true); }
Result<void> Telemetry::unwatch(pid_t tgid) { return set_watched(tgid, false); }

void Telemetry::set_watched_cpus(std::span<const int> cpus) noexcept {
  // Built whole, then stored word by word into the mmapped .bss (each
  // 64-bit store is atomic on x86_64; a softirq racing the update is
  // counted under either the old or the new set).
  std::uint64_t words[FLUID_MAX_CPUS / 64] = {};
  for (const int cpu : cpus) {
    if (cpu >= 0 && cpu < FLUID_MAX_CPUS) words[cpu / 64] |= std::uint64_t{1} << (cpu % 64);
  }
  for (std::size_t i = 0; i < std::size(words); ++i) {
    __atomic_store_n(&skeleton_->bss->watched_cpus[i], words[i], __ATOMIC_RELAXED);
  }
}

Result<CounterSnapshot> Telemetry::read() const {
  // A per-CPU lookup returns one value per possible CPU, each padded to 8
  // bytes (fluid_counters is all u64, so no padding).
  std::vector<fluid_counters> per_cpu(static_cast<std::size_t>(possible_cpus_));
  const std::uint32_t zero = 0;
  if (bpf_map__lookup_elem(skeleton_->maps.counters, &zero, sizeof zero, per_cpu.data(),
                           per_cpu.size() * sizeof(fluid_counters), 0) != 0) {
    return errno_error("fluid telemetry: cannot read the per-CPU counters map");
  }
  CounterSnapshot total;
  for (const fluid_counters& cpu : per_cpu) {
    for (std::size_t i = 0; i < total.syscalls.size(); ++i) total.syscalls[i] += cpu.syscalls[i];
    total.user_page_faults += cpu.user_page_faults;
    total.voluntary_switches += cpu.voluntary_switches;
    total.involuntary_switches += cpu.involuntary_switches;
    total.runqueue_wait_ns += cpu.runqueue_wait_ns;
    total.runqueue_waits += cpu.runqueue_waits;
    total.softirq_ns += cpu.softirq_ns;
  }
  return total;
}

std::vector<std::uint32_t> Telemetry::program_ids() const {
  std::vector<std::uint32_t> ids;
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, skeleton_->obj) {
    bpf_prog_info info{};
    std::uint32_t length = sizeof info;
    if (bpf_obj_get_info_by_fd(bpf_program__fd(program), &info, &length) == 0) ids.push_back(info.id);
  }
  return ids;
}

std::vector<Telemetry::ProgramRunStats> Telemetry::run_stats() const {
  std::vector<ProgramRunStats> stats;
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, skeleton_->obj) {
    bpf_prog_info info{};
    std::uint32_t length = sizeof info;
    if (bpf_obj_get_info_by_fd(bpf_program__fd(program), &info, &length) == 0) {
      stats.push_back({bpf_program__name(program), info.run_cnt, info.run_time_ns});
    }
  }
  return stats;
}

Result<UniqueFd> Telemetry::enable_run_time_stats() {
  const int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) return errno_error("fluid telemetry: cannot enable BPF run-time stats (bpf(BPF_ENABLE_STATS))", -fd);
  return UniqueFd(fd);
}

}  // namespace aether::fluid
