#include "aether/fluid/workload.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "aether/core/unique_fd.hpp"

namespace aether::fluid {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t page_size = 4096;
constexpr std::size_t fault_chunk_bytes = 16u << 20;  // mapped, touched, unmapped per round
constexpr std::string_view phase_names = "idle, syscall, compute, faults";

Result<std::uint64_t> run_syscall_phase(Clock::time_point deadline) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return errno_error("workload: cannot make a pipe for the syscall phase");
  const UniqueFd read_end(ends[0]);
  const UniqueFd write_end(ends[1]);
  std::uint64_t rounds = 0;
  char byte = 'x';
  while (Clock::now() < deadline) {
    for (int i = 0; i < 256; ++i) {
      (void)::getppid();
      if (::write(write_end.get(), &byte, 1) != 1 || ::read(read_end.get(), &byte, 1) != 1) {
        return errno_error("workload: pipe write/read failed in the syscall phase");
      }
    }
    rounds += 256;
  }
  return rounds;
}

std::uint64_t run_compute_phase(Clock::time_point deadline) {
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  std::uint64_t spins = 0;
  while (Clock::now() < deadline) {
    for (int i = 0; i < 1024; ++i) state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    ++spins;
  }
  // Keep the arithmetic: the compiler must not drop the loop.
  asm volatile("" : : "r"(state));
  return spins;
}

Result<std::uint64_t> run_faults_phase(Clock::time_point deadline) {
  std::uint64_t pages = 0;
  while (Clock::now() < deadline) {
    void* memory = ::mmap(nullptr, fault_chunk_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return errno_error("workload: cannot map memory for the faults phase");
    auto* bytes = static_cast<volatile char*>(memory);
    // Touch one byte per page: one user page fault each (no THP: madvise off).
    ::madvise(memory, fault_chunk_bytes, MADV_NOHUGEPAGE);
    for (std::size_t offset = 0; offset < fault_chunk_bytes && Clock::now() < deadline; offset += page_size) {
      bytes[offset] = 1;
      ++pages;
    }
    ::munmap(memory, fault_chunk_bytes);
  }
  return pages;
}

}  // namespace

std::string_view phase_name(PhaseKind kind) noexcept {
  switch (kind) {
    case PhaseKind::idle: return "idle";
    case PhaseKind::syscall: return "syscall";
    case PhaseKind::compute: return "compute";
    case PhaseKind::faults: return "faults";
  }
  return "idle";
}

Result<std::vector<WorkloadPhase>> parse_phases(std::string_view text) {
  std::vector<WorkloadPhase> phases;
  if (text.empty()) return invalid_argument(fmt::format("--phases is empty; expected NAME:SECONDS,... with NAME one of {}", phase_names));
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const auto colon = item.find(':');
    if (colon == std::string_view::npos) {
      return invalid_argument(fmt::format("phase \"{}\": expected NAME:SECONDS (e.g. idle:1)", item));
    }
    const std::string_view name = item.substr(0, colon);
    const std::string_view seconds_text = item.substr(colon + 1);
    WorkloadPhase phase;
    if (name == "idle") phase.kind = PhaseKind::idle;
    else if (name == "syscall") phase.kind = PhaseKind::syscall;
    else if (name == "compute") phase.kind = PhaseKind::compute;
    else if (name == "faults") phase.kind = PhaseKind::faults;
    else return invalid_argument(fmt::format("phase \"{}\": unknown name \"{}\"; known: {}", item, name, phase_names));
    double seconds = 0.0;
    const auto [end, error] = std::from_chars(seconds_text.data(), seconds_text.data() + seconds_text.size(), seconds);
    if (seconds_text.empty() || error != std::errc{} || end != seconds_text.data() + seconds_text.size() ||
        !(seconds > 0.0 && seconds <= 86400.0)) {
      return invalid_argument(fmt::format("phase \"{}\": \"{}\" is not a number of seconds in (0, 86400]", item, seconds_text));
    }
    phase.duration = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0 + 0.5));
    if (phase.duration.count() == 0) phase.duration = std::chrono::milliseconds(1);
    phases.push_back(phase);
  }
  return phases;
}

Result<std::vector<PhaseResult>> run_workload(const std::vector<WorkloadPhase>& phases,
                                              const std::function<void(const WorkloadPhase&)>& on_phase_start) {
  std::vector<PhaseResult> results;
  for (const WorkloadPhase& phase : phases) {
    if (on_phase_start) on_phase_start(phase);
    const auto deadline = Clock::now() + phase.duration;
    PhaseResult result{phase, 0};
    switch (phase.kind) {
      case PhaseKind::idle:
        std::this_thread::sleep_until(deadline);
        break;
      case PhaseKind::syscall: {
        auto rounds = run_syscall_phase(deadline);
        if (!rounds) return std::move(rounds).error();
        result.operations = *rounds;
        break;
      }
      case PhaseKind::compute:
        result.operations = run_compute_phase(deadline);
        break;
      case PhaseKind::faults: {
        auto pages = run_faults_phase(deadline);
        if (!pages) return std::move(pages).error();
        result.operations = *pages;
        break;
      }
    }
    results.push_back(result);
  }
  return results;
}

}  // namespace aether::fluid
