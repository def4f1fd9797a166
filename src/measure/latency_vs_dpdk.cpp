// The memif round trip with DPDK in each role (see latency_vs_dpdk.hpp).
#include "aether/measure/latency_vs_dpdk.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/unique_fd.hpp"
#include "aether/dataplane/echo.hpp"
#include "aether/measure/port_on_veth.hpp"
#include "aether/measure/testpmd_process.hpp"
#include "latency_run.hpp"

namespace aether::measure {
namespace {

// The addresses probes carry over memif (no kernel sees them).
net::VethEnd memif_end(std::uint8_t last, const char* ip) {
  net::VethEnd end;
  end.mac = {0x02, 0, 0, 0, 0, last};
  end.ip = ip;
  end.ip_be = htonl((10u << 24) | (77u << 16) | last);
  return end;
}

std::string fresh_socket_name(const char* role) {
  static std::atomic<unsigned> count{0};
  return fmt::format("aether-vs-dpdk-{}-{}-{}", ::getpid(), role, count++);
}

// testpmd as the memif server, answering in macswap mode (its forwarding
// lcore on the responder CPU). What testpmd's latency role is in DPDK's own
// tooling: swap the MACs, send it back.
Result<void> start_testpmd_responder(TestpmdProcess& testpmd, const LatencyBenchConfig& config, const std::string& socket) {
  TestpmdProcess::Options options;
  options.cpus = fmt::format("{},{}", config.generator_cpu, config.responder_cpu);
  options.main_lcore = config.generator_cpu;
  options.vdevs = {fmt::format("net_memif,role=server,id=0,socket={},socket-abstract=yes", socket)};
  options.forward_mode = "macswap";
  options.worker_fifo_priority = config.fifo_priority;
  if (auto started = testpmd.start(options); !started) return started;
  return testpmd.start_forwarding();
}

// Reads a child's output until it closes (the child ended) or `deadline`;
// on `stop`, asks it to finish with SIGINT (it then reports what it has).
std::string collect_output(int fd, pid_t pid, std::chrono::steady_clock::time_point deadline,
                           const std::atomic<bool>& stop) {
  std::string output;
  bool interrupted = false;
  for (;;) {
    if (!interrupted && stop.load(std::memory_order_relaxed)) {
      ::kill(pid, SIGINT);
      interrupted = true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      output += "\n[aether: killed after its time ran out]";
      break;
    }
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, 100) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  return output;
}

std::string tail(const std::string& text, std::size_t size = 600) {
  return text.substr(text.size() > size ? text.size() - size : 0);
}

// Runs aether-dpdk-pinger as the memif client of `socket` on the generator
// CPU and turns its report into a GeneratorResult.
Result<GeneratorResult> run_dpdk_pinger(const std::string& pinger, const LatencyBenchConfig& config,
                                        const std::string& socket, const std::atomic<bool>& stop) {
  static std::atomic<unsigned> runs{0};
  const std::string prefix = fmt::format("aether-pinger-{}-{}", ::getpid(), runs++);
  const std::string samples_path = fmt::format("/tmp/{}.samples", prefix);
  const std::uint64_t probes = config.rate_per_second > 0
                                   ? static_cast<std::uint64_t>(config.rate_per_second * config.seconds)
                                   : config.closed_loop_probes;
  std::vector<std::string> args = {pinger, "-l", std::to_string(config.generator_cpu), "--no-pci", "--no-huge",
                                   "--no-shconf", "-m", "256", "--log-level=*:warning", "--file-prefix=" + prefix,
                                   fmt::format("--vdev=net_memif,role=client,id=0,socket={},socket-abstract=yes", socket),
                                   "--", "--rate", fmt::format("{}", config.rate_per_second), "--probes",
                                   std::to_string(probes), "--warmup", std::to_string(config.warmup_probes), "--out",
                                   samples_path};
  // The pinger makes only its polling thread SCHED_FIFO, after EAL started
  // its own threads: set from here on the whole process, they would inherit
  // it, and pinned to the responder's CPU beside a spinning FIFO testpmd
  // they never ran again; the pinger could not exit (seen: a --sched both
  // run hung in waitpid on its zombie).
  if (config.fifo_priority) args.insert(args.end(), {"--fifo", std::to_string(*config.fifo_priority)});
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  int from_child[2];
  if (::pipe2(from_child, O_CLOEXEC) != 0) return errno_error("pipe for aether-dpdk-pinger");
  UniqueFd output_fd(from_child[0]);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);                     // a Ctrl-C to us is for us; we stop it
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // and it dies with us
    ::dup2(from_child[1], 1);
    ::dup2(from_child[1], 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(from_child[1]);
  if (pid < 0) return errno_error("fork for aether-dpdk-pinger");
  // Start-up, the link, the probes at the rate (or ~1 ms each in closed loop), the drain: generous.
  const double expected_seconds = config.rate_per_second > 0 ? static_cast<double>(config.warmup_probes + probes) / config.rate_per_second
                                                             : static_cast<double>(config.warmup_probes + probes) * 1e-3;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30) +
                        std::chrono::milliseconds(static_cast<std::int64_t>(expected_seconds * 2000));
  const std::string output = collect_output(output_fd.get(), pid, deadline, stop);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::error_code ignored;
  std::filesystem::remove_all("/var/run/dpdk/" + prefix, ignored);
  const auto remove_samples = [&] { std::filesystem::remove(samples_path, ignored); };
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    remove_samples();
    return Error{std::make_error_code(std::errc::io_error),
                 fmt::format("aether-dpdk-pinger {}: {}", describe_child_exit(status), tail(output))};
  }
  const auto line_start = output.rfind("\n{");
  const std::string line = output.substr(line_start == std::string::npos ? 0 : line_start + 1);
  const auto report = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (report.is_discarded() || !report.contains("received")) {
    remove_samples();
    return Error{std::make_error_code(std::errc::bad_message),
                 fmt::format("aether-dpdk-pinger printed no report: {}", tail(output))};
  }
  GeneratorResult result;
  result.sent = report.value("sent", std::uint64_t{0});
  result.received = report.value("received", std::uint64_t{0});
  result.lost = report.value("lost", std::uint64_t{0});
  result.unexpected = report.value("unexpected", std::uint64_t{0});
  result.late_send_ns_max = report.value("late_send_ns_max", std::uint64_t{0});
  result.elapsed_ns = report.value("elapsed_ns", std::uint64_t{0});
  std::ifstream samples(samples_path, std::ios::binary);
  std::uint64_t sample = 0;
  while (samples.read(reinterpret_cast<char*>(&sample), sizeof sample)) result.round_trip_ns.record(sample);
  remove_samples();
  return result;
}

BackendLatency row(const char* name, const std::string& summary, const LatencyBenchConfig& config) {
  BackendLatency out;
  out.backend.name = name;
  out.backend.kind = "memif";
  out.backend.summary = summary;
  out.rate_per_second = config.rate_per_second;
  out.responder_cpu_percent = -1;  // a DPDK process's: not measured
  out.generator_cpu_percent = -1;
  return out;
}

BackendLatency aether_to_testpmd(const LatencyBenchConfig& config, const Clock& clock, const std::atomic<bool>& stop,
                                 const ProgressFunction& progress) {
  BackendLatency out = row(memif_aether_to_testpmd, "Aether's generator, testpmd macswap answering", config);
  const std::string socket = fresh_socket_name("t");
  TestpmdProcess testpmd;
  if (auto started = start_testpmd_responder(testpmd, config, socket); !started) {
    out.error = started.error().describe();
    return out;
  }
  out.generator_spec = fmt::format("memif:@{}?role=client", socket);
  out.responder_spec = "testpmd net_memif server, forward-mode macswap";
  auto port = open_port_and_pool(out.generator_spec, 0);
  if (!port) {
    out.error = port.error().describe();
    return out;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (port->port->link_state() != net::LinkState::up && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (port->port->link_state() != net::LinkState::up) {
    out.error = fmt::format("memif link to testpmd not up after 5 s{}",
                            testpmd.exited() ? "; testpmd " + testpmd.exit_description() : "");
    return out;
  }
  out.mode = port->port->info().mode;
  const auto before = testpmd.port_stats();
  LatencyGenerator generator(probe_generator_config(config, memif_end(1, "10.77.0.1"), memif_end(2, "10.77.0.2")),
                             port->port->queue(0), *port->pool, clock);
  const auto started = std::chrono::steady_clock::now();
  auto generated = drive_generator(generator, config, out.backend.name, stop, progress);
  if (!generated) {
    out.error = generated.error().describe();
    return out;
  }
  out.generator = std::move(generator.result());
  out.generator_cpu_percent = cpu_percent(generated->cpu_time_ns, started);
  out.generator_port = port->port->stats();
  if (const auto after = testpmd.port_stats(); before && after) {
    out.responder_received = after->rx_packets - before->rx_packets;
    out.responder_sent = after->tx_packets - before->tx_packets;
  } else if (!after) {
    out.notes.push_back("testpmd: " + after.error().message);  // a crash after the run is still a finding
  }
  return out;
}

BackendLatency dpdk_pinger_to(bool aether_answers, const std::string& pinger, const LatencyBenchConfig& config,
                              const std::atomic<bool>& stop, const ProgressFunction& progress) {
  BackendLatency out = aether_answers ? row(memif_dpdk_to_aether, "aether-dpdk-pinger, Aether's echo answering", config)
                                      : row(memif_dpdk_to_testpmd, "aether-dpdk-pinger, testpmd macswap answering", config);
  const std::string socket = fresh_socket_name(aether_answers ? "a" : "d");
  out.generator_spec = fmt::format("aether-dpdk-pinger net_memif client @{}", socket);
  TestpmdProcess testpmd;
  std::optional<PortWithPool> port;
  std::optional<dataplane::EchoResponder> echo;
  std::unique_ptr<dataplane::Worker> worker;
  const auto started = std::chrono::steady_clock::now();
  if (aether_answers) {
    out.responder_spec = fmt::format("memif:@{}?role=server", socket);
    auto opened = open_port_and_pool(out.responder_spec, 1);
    if (!opened) {
      out.error = opened.error().describe();
      return out;
    }
    port.emplace(std::move(*opened));
    out.mode = port->port->info().mode;
    echo.emplace(port->port->queue(0), *port->pool);
    auto started_worker =
        dataplane::Worker::start({config.responder_cpu, config.fifo_priority, "aether-echo"}, {&*echo}, &stop);
    if (!started_worker) {
      out.error = started_worker.error().describe();
      return out;
    }
    worker = std::move(*started_worker);
  } else {
    out.responder_spec = "testpmd net_memif server, forward-mode macswap";
    if (auto responding = start_testpmd_responder(testpmd, config, socket); !responding) {
      out.error = responding.error().describe();
      return out;
    }
  }
  if (progress) progress(fmt::format("  {}: {}", out.backend.name, out.backend.summary));
  auto result = run_dpdk_pinger(pinger, config, socket, stop);
  if (worker) {
    const auto stats = worker->join();
    out.responder_cpu_percent = cpu_percent(stats.cpu_time_ns, started);
    out.responder_received = echo->counters().received.get();
    out.responder_sent = echo->counters().sent.get();
    out.responder_dropped = echo->counters().dropped_not_udp.get() + echo->counters().dropped_tx_full.get();
    out.responder_port = port->port->stats();
  }
  if (!result) {
    out.error = result.error().describe();
    if (!aether_answers && testpmd.exited()) out.error += "; testpmd " + testpmd.exit_description();
    return out;
  }
  out.generator = std::move(*result);
  return out;
}

}  // namespace

Result<std::string> find_dpdk_pinger() {
  if (const char* given = std::getenv("AETHER_DPDK_PINGER"); given != nullptr && *given != '\0') {
    if (::access(given, X_OK) != 0) return errno_error(fmt::format("AETHER_DPDK_PINGER={} is not executable", given));
    return std::string(given);
  }
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::string next_to_us = (self.parent_path() / "aether-dpdk-pinger").string();
  if (!error && ::access(next_to_us.c_str(), X_OK) == 0) return next_to_us;
  return Error{std::make_error_code(std::errc::no_such_file_or_directory),
               fmt::format("aether-dpdk-pinger is not at {} (it is built with aether when Debian's dpdk-dev is "
                           "installed: ./scripts/install-deps, then rebuild; or set AETHER_DPDK_PINGER)",
                           next_to_us)};
}

std::vector<BackendLatency> run_memif_vs_dpdk(const LatencyBenchConfig& config, const Clock& clock,
                                              const std::atomic<bool>& stop, const ProgressFunction& progress) {
  std::vector<BackendLatency> rows;
  const std::string missing = TestpmdProcess::missing_memif_support();
  auto pinger = find_dpdk_pinger();
  if (!stop.load(std::memory_order_relaxed)) {
    if (progress) progress(fmt::format("  {}: Aether's generator, testpmd macswap answering", memif_aether_to_testpmd));
    if (missing.empty()) {
      rows.push_back(aether_to_testpmd(config, clock, stop, progress));
    } else {
      rows.push_back(row(memif_aether_to_testpmd, "", config));
      rows.back().error = missing;
    }
  }
  for (const bool aether_answers : {true, false}) {
    if (stop.load(std::memory_order_relaxed)) break;
    if (!pinger || (!aether_answers && !missing.empty())) {
      rows.push_back(row(aether_answers ? memif_dpdk_to_aether : memif_dpdk_to_testpmd, "", config));
      rows.back().error = pinger ? missing : pinger.error().describe();
      continue;
    }
    rows.push_back(dpdk_pinger_to(aether_answers, *pinger, config, stop, progress));
  }
  return rows;
}

}  // namespace aether::measure
