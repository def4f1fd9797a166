#include "aether/fluid/workload.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "aether/core/unique_fd.hpp"

namespace aether::fluid {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t page_size = 4096;
constexpr std::size_t fault_chunk_bytes = 16u << 20;  // mapped, touched, unmapped per round
constexpr std::string_view phase_names = "idle, packets, syscall, compute, faults";
constexpr unsigned packet_burst = 32;       // datagrams per sendmmsg/recvmmsg
constexpr std::size_t packet_bytes = 64;    // the smallest frame's worth of payload

// One UDP socket bound to 127.0.0.1 and connected to itself: every burst goes
// through the loopback device and its NET_RX softirq, and never leaves the host.
Result<std::uint64_t> run_packets_phase(Clock::time_point deadline) {
  const UniqueFd socket_fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket_fd.valid()) return errno_error("workload: cannot open a UDP socket for the packets phase");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(socket_fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
      ::connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return errno_error("workload: cannot bind and connect a UDP socket on 127.0.0.1 for the packets phase");
  }
  std::array<std::array<char, packet_bytes>, packet_burst> payloads{};
  std::array<iovec, packet_burst> vectors{};
  std::array<mmsghdr, packet_burst> messages{};
  for (unsigned i = 0; i < packet_burst; ++i) {
    vectors[i] = iovec{payloads[i].data(), payloads[i].size()};
    messages[i].msg_hdr.msg_iov = &vectors[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  std::uint64_t received = 0;
  while (Clock::now() < deadline) {
    const int sent = ::sendmmsg(socket_fd.get(), messages.data(), packet_burst, 0);
    if (sent < 0) return errno_error("workload: sendmmsg on 127.0.0.1 failed in the packets phase");
    // Everything sent is already queued on the socket (loopback delivers in the sender's softirq).
    const int got = ::recvmmsg(socket_fd.get(), messages.data(), static_cast<unsigned>(sent), MSG_DONTWAIT, nullptr);
    if (got > 0) received += static_cast<std::uint64_t>(got);
  }
  return received;
}

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
    case PhaseKind::packets: return "packets";
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
    else if (name == "packets") phase.kind = PhaseKind::packets;
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
      case PhaseKind::packets: {
        auto received = run_packets_phase(deadline);
        if (!received) return std::move(received).error();
        result.operations = *received;
        break;
      }
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
