// The runtime's cost to an application (issue 10, "Measures"): the ~50-line
// echo example (examples/echo.cpp, built here from the same source as the
// installed-package build) against `aether echo`, both on the runtime, in
// one run.
//  - EchoExampleVsAetherEcho: each responder is a separate process serving
//    a memif server socket on one pinned CPU; this process is the load: a
//    runtime worker on another CPU with a memif client port (zero copy)
//    keeps up to `window` 64-byte UDP frames in flight and counts the
//    echoes. Phases alternate example, aether echo, example, ... of
//    `state.range(0)` ms each (the first 300 ms of each not counted: link
//    up, warm caches). Reports Mpps echoed per responder and their ratio
//    (example / aether echo; goal: within 5 %, i.e. 0.95..1.05). The load
//    is the same for both, so a load-bound run shows a ratio near 1 and
//    Mpps near the load's own ceiling: `sent_mpps_*` tell which.
// Run: build/release/bench/aether_bench_runtime --benchmark_format=json
#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "aether/core/thread_setup.hpp"
#include "aether/net/frame.hpp"
#include "aether/runtime/runtime.hpp"

namespace {

using namespace aether;
using namespace std::chrono_literals;

constexpr std::size_t frame_size = 64;  // bytes without FCS
constexpr std::uint64_t window = 256;   // frames in flight: a quarter of memif's 1024-slot ring

// The load: sends copies of one UDP frame while fewer than `window` are
// unanswered, and frees every echo it receives.
class EchoLoad final : public dataplane::Poller {
 public:
  EchoLoad(net::Queue& queue, mem::Mempool& pool) : queue_(queue), pool_(pool) {
    const net::UdpEndpoint source{*net::parse_mac("02:00:00:00:0b:01"), *net::parse_ipv4_be("10.11.0.1"), htons(4000)};
    const net::UdpEndpoint destination{*net::parse_mac("02:00:00:00:0b:02"), *net::parse_ipv4_be("10.11.0.2"),
                                       htons(7)};
    (void)net::write_udp_headers(template_, source, destination, frame_size - net::udp_frame_header_size);
  }

  bool poll() noexcept override {
    std::array<net::Packet*, 32> burst;
    const unsigned received = queue_.rx_burst(burst);
    if (received > 0) pool_.free_bulk(std::span(burst.data(), received));
    received_ += received;
    received_published_.store(received_, std::memory_order_relaxed);  // single writer; read for rates
    if (sent_ - received_ >= window) return received > 0;
    const unsigned allocated = pool_.alloc_bulk(std::span(burst));
    for (unsigned i = 0; i < allocated; ++i) {
      std::memcpy(burst[i]->data(), template_.data(), frame_size);
      (void)burst[i]->set_length(frame_size);
    }
    const unsigned sent = queue_.tx_burst(std::span(burst.data(), allocated));
    if (sent < allocated) pool_.free_bulk(std::span(burst.data() + sent, allocated - sent));
    sent_ += sent;
    sent_published_.store(sent_, std::memory_order_relaxed);
    return true;
  }

  [[nodiscard]] std::uint64_t received() const noexcept { return received_published_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t sent() const noexcept { return sent_published_.load(std::memory_order_relaxed); }

 private:
  net::Queue& queue_;
  mem::Mempool& pool_;
  std::array<std::byte, frame_size> template_{};
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
  std::atomic<std::uint64_t> sent_published_{0};
  std::atomic<std::uint64_t> received_published_{0};
};

// A responder process: `argv`, output to /dev/null; SIGINT and reaped when destroyed.
class Responder {
 public:
  explicit Responder(const std::vector<std::string>& argv) {
    std::vector<char*> arguments;
    for (const auto& argument : argv) arguments.push_back(const_cast<char*>(argument.c_str()));
    arguments.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls from here to exec.
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      ::execv(arguments[0], arguments.data());
      ::_exit(127);
    }
  }
  ~Responder() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

 private:
  pid_t pid_ = -1;
};

struct PhaseResult {
  double echoed_mpps = 0;
  double sent_mpps = 0;
  std::string error;
};

// One phase: the responder `argv_for(socket)` on its CPU, the load on `load_cpu`.
template <class ArgvFor>
PhaseResult run_phase(ArgvFor argv_for, unsigned load_cpu, std::chrono::milliseconds length, int phase) {
  const std::string socket = fmt::format("memif:@aether-bench-runtime-{}-{}", ::getpid(), phase);
  Responder responder(argv_for(socket + "?role=server"));
  runtime::RuntimeConfig config;
  config.lock_memory = false;
  config.add_port("load", socket + "?role=client");
  config.add_worker("bench-load", load_cpu, {"load"});
  // The responder's server socket may not be listening yet: retry briefly.
  auto rt = runtime::Runtime::create(config);
  for (int attempt = 0; attempt < 50 && !rt; ++attempt) {
    ::usleep(100'000);
    rt = runtime::Runtime::create(config);
  }
  if (!rt) return PhaseResult{0, 0, rt.error().describe()};
  // Frames sent before the link is up are dropped (memif's tx_link_down)
  // and would hold the window forever: start once connected.
  net::Port& port = *(*rt)->port("load").value();
  for (int wait = 0; wait < 500 && port.link_state() != net::LinkState::up; ++wait) ::usleep(10'000);
  if (port.link_state() != net::LinkState::up) return PhaseResult{0, 0, "the memif link did not come up in 5 s"};
  EchoLoad load(port.queue(0), *(*rt)->pool_of_port("load").value());
  if (auto added = (*rt)->add_poller("load", load); !added) return PhaseResult{0, 0, added.error().describe()};
  const auto warmup = 300ms;
  std::chrono::nanoseconds first_at{0}, last_at{0};
  std::uint64_t first_received = 0, last_received = 0, first_sent = 0, last_sent = 0;
  runtime::RunOptions options;
  options.control_interval = 50ms;
  options.duration = length;
  options.on_tick = [&](std::chrono::nanoseconds elapsed) {
    if (elapsed < warmup) return;
    if (first_at.count() == 0) {
      first_at = elapsed, first_received = load.received(), first_sent = load.sent();
      return;
    }
    last_at = elapsed, last_received = load.received(), last_sent = load.sent();
  };
  auto report = (*rt)->run(options);
  if (!report) return PhaseResult{0, 0, report.error().describe()};
  const double seconds = std::chrono::duration<double>(last_at - first_at).count();
  if (seconds <= 0) return PhaseResult{0, 0, "the phase was too short to measure"};
  return PhaseResult{static_cast<double>(last_received - first_received) / seconds / 1e6,
                     static_cast<double>(last_sent - first_sent) / seconds / 1e6, ""};
}

void EchoExampleVsAetherEcho(benchmark::State& state) {
  const auto phase = std::chrono::milliseconds(state.range(0));
  constexpr int phases = 6;  // example, aether echo, example, ...
  auto cpus = allowed_cpus();
  if (!cpus || cpus->size() < 2) {
    state.SkipWithError("needs two allowed CPUs: one for the responder, one for the load");
    return;
  }
  const unsigned load_cpu = cpus->front();
  const std::string responder_cpu = std::to_string(cpus->back());
  const std::string seconds = std::to_string(phase.count() / 1000 + 5);  // outlives the phase; SIGINT ends it
  const auto example = [&](const std::string& spec) {
    return std::vector<std::string>{AETHER_EXAMPLE_ECHO_PATH, spec, responder_cpu, seconds};
  };
  const auto aether_echo = [&](const std::string& spec) {
    return std::vector<std::string>{AETHER_CLI_PATH, "echo", spec, "--cpu", responder_cpu, "--buffers", "4096",
                                    "--no-lock-memory"};
  };
  std::array<double, 2> echoed{}, sent{};  // [0] example, [1] aether echo: sums over their phases
  for (auto _ : state) {
    for (int p = 0; p < phases; ++p) {
      const bool is_example = (p % 2) == 0;
      const PhaseResult result = is_example ? run_phase(example, load_cpu, phase, p)
                                            : run_phase(aether_echo, load_cpu, phase, p);
      if (!result.error.empty()) {
        state.SkipWithError(fmt::format("{} phase {}: {}", is_example ? "example" : "aether echo", p, result.error).c_str());
        return;
      }
      // Each phase too: on a shared host the spread between phases of one
      // responder says how far the averages can be trusted.
      state.counters[fmt::format("{}_phase{}_mpps", is_example ? "example" : "aether_echo", p)] = result.echoed_mpps;
      echoed[is_example ? 0 : 1] += result.echoed_mpps / (phases / 2);
      sent[is_example ? 0 : 1] += result.sent_mpps / (phases / 2);
    }
  }
  state.counters["example_mpps"] = echoed[0];
  state.counters["aether_echo_mpps"] = echoed[1];
  state.counters["ratio_example_to_aether_echo"] = echoed[1] > 0 ? echoed[0] / echoed[1] : 0;
  state.counters["sent_mpps_example"] = sent[0];
  state.counters["sent_mpps_aether_echo"] = sent[1];
}
// Argument: milliseconds per phase (6 phases, alternating).
BENCHMARK(EchoExampleVsAetherEcho)->Arg(2000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
