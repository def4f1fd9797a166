// The built-in deterministic workload: named behaviours run for a given
// time each, so the telemetry (and later the classifier) has labelled phases.
//   idle     sleeps
//   packets  bursts of 32 UDP datagrams to itself on 127.0.0.1 (sendmmsg, recvmmsg)
//   syscall  getppid, then a 1-byte write and read on a pipe, in a loop
//   compute  spins on integer arithmetic, no syscalls
//   faults   maps fresh anonymous memory and touches every page (user page faults)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"

namespace aether::fluid {

enum class PhaseKind { idle, packets, syscall, compute, faults };

struct WorkloadPhase {
  PhaseKind kind = PhaseKind::idle;
  std::chrono::milliseconds duration{0};
};

struct PhaseResult {
  WorkloadPhase phase;
  std::uint64_t operations = 0;  // packets: datagrams received; syscall: loop rounds (3 syscalls each); faults: pages touched; compute: spins/1024
};

[[nodiscard]] std::string_view phase_name(PhaseKind kind) noexcept;

// "idle:1,syscall:0.5,..." (seconds, > 0 and <= 86400). Errors quote the bad
// part and list the phase names.
Result<std::vector<WorkloadPhase>> parse_phases(std::string_view text);

// Runs the phases in order on the calling thread; `on_phase_start` is called
// as each begins. Errors: a pipe or mmap that could not be made.
Result<std::vector<PhaseResult>> run_workload(const std::vector<WorkloadPhase>& phases,
                                              const std::function<void(const WorkloadPhase&)>& on_phase_start);

}  // namespace aether::fluid
