// The fluid telemetry's BPF side, owned: loads src/fluid/bpf/telemetry.bpf.c
// (embedded as a libbpf skeleton), attaches its tp_btf programs and reads
// its per-CPU counters. Only tasks whose tgid was passed to watch() count.
//
// Destruction detaches every program and frees every map (the skeleton owns
// the links and fds); a killed process loses them with its fds too.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/core/unique_fd.hpp"
#include "aether/fluid/features.hpp"

struct fluid_telemetry;  // the generated skeleton (src/fluid/, build directory)

namespace aether::fluid {

// Why BPF cannot run here, named, or "" when it can (as far as can be told
// before trying): /sys/kernel/btf/vmlinux missing (CONFIG_DEBUG_INFO_BTF), or
// CAP_BPF / CAP_PERFMON missing from this process's effective set
// (CAP_SYS_ADMIN covers both).
// `btf_path` is the kernel's BTF file (tests pass a missing path).
[[nodiscard]] std::string bpf_unavailable_reason(const std::string& btf_path = "/sys/kernel/btf/vmlinux");

class Telemetry {
 public:
  // Loads and attaches. Errors name what is missing (BTF, a capability) or
  // quote libbpf's failure with the errno's meaning.
  static Result<Telemetry> open();

  Telemetry(Telemetry&&) noexcept;
  Telemetry& operator=(Telemetry&&) noexcept;
  ~Telemetry();

  // Adds/removes a tgid (init PID namespace, 1..4194303) to/from the in-kernel filter.
  Result<void> watch(pid_t tgid);
  Result<void> unwatch(pid_t tgid);

  // CPUs whose softirq time counts (all others' is ignored).
  void set_watched_cpus(std::span<const int> cpus) noexcept;

  // Cumulative counts since open(), summed over every possible CPU.
  [[nodiscard]] Result<CounterSnapshot> read() const;

  // The kernel's ids of the loaded programs (for tests that check detach).
  [[nodiscard]] std::vector<std::uint32_t> program_ids() const;

  // The kernel's own accounting of each program: runs and ns spent in the
  // program (0 unless run-time stats are on, see enable_run_time_stats()).
  struct ProgramRunStats {
    std::string name;
    std::uint64_t run_count = 0;
    std::uint64_t run_time_ns = 0;
  };
  [[nodiscard]] std::vector<ProgramRunStats> run_stats() const;

  // Turns on the kernel's BPF run-time accounting while the returned fd is
  // open (bpf(BPF_ENABLE_STATS); no sysctl is changed). For benchmarks.
  static Result<UniqueFd> enable_run_time_stats();

 private:
  struct SkeletonDeleter {
    void operator()(::fluid_telemetry* skeleton) const noexcept;
  };
  explicit Telemetry(std::unique_ptr<::fluid_telemetry, SkeletonDeleter> skeleton) noexcept;
  Result<void> set_watched(pid_t tgid, bool watched);

  std::unique_ptr<::fluid_telemetry, SkeletonDeleter> skeleton_;
  int possible_cpus_ = 0;
};

}  // namespace aether::fluid
