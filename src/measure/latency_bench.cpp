// Orchestration of `aether bench latency`: topology, ports, workers, per path.
#include "aether/measure/latency_bench.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aether/core/host_environment.hpp"
#include "aether/dataplane/echo.hpp"
#include "aether/dataplane/poller.hpp"
#include "aether/measure/latency_vs_dpdk.hpp"
#include "aether/measure/port_on_veth.hpp"
#include "latency_run.hpp"
#include "aether/net/port_registry.hpp"
#include "aether/net/port_registry.hpp"

namespace aether::measure {

const std::vector<BenchBackend>& bench_backends() {
  static const std::vector<BenchBackend> all = {
      {"udp", "udp", "", "", "kernel UDP sockets, both ends spin on recvmmsg/sendmmsg", "", ""},
      {"udp-block", "udp", "", "?wait=block", "kernel UDP sockets, the responder sleeps in poll() on the socket", "", ""},
      {"afpacket", "afpacket", "", "", "AF_PACKET mmap rings on the veth ends", "", ""},
      {"afxdp", "afxdp", "", "", "AF_XDP sockets on the veth ends", "", ""},
      {"memif", "memif", "", "", "memif shared memory, zero-copy client to server, polling (no veth)", "", ""},
      // What DPDK's net_memif client does: copy each frame into its own
      // shared buffers (the server copies it out again); equal work with
      // testpmd in `bench throughput --vs-dpdk`. Not in "all".
      {"memif-copy", "memif", "?zero_copy=0", "", "memif, the client copying into its own buffers as DPDK's does", "", ""},
  };
  return all;
}

Result<std::vector<BenchBackend>> select_bench_backends(const std::string& list) {
  std::vector<BenchBackend> selected;
  std::vector<std::string> names;
  for (const auto& backend : bench_backends()) names.push_back(backend.name);
  if (list == "all") {
    for (const auto& backend : bench_backends()) {
      if (backend.name != "memif-copy") selected.push_back(backend);
    }
    return selected;
  }
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto comma = list.find(',', start);
    const std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool found = false;
    for (const auto& backend : bench_backends()) {
      if (backend.name == name) {
        selected.push_back(backend);
        found = true;
      }
    }
    if (!found) {
      return invalid_argument(fmt::format("--backends: unknown path '{}' (known: {}, or all)", name, fmt::join(names, ", ")));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return selected;
}

Result<BenchBackend> given_ports_backend(const std::string& ports) {
  const auto comma = ports.find(',');
  const std::string a = ports.substr(0, comma);
  const std::string b = comma == std::string::npos ? std::string() : ports.substr(comma + 1);
  if (a.empty() || b.empty() || b.find(',') != std::string::npos) {
    return invalid_argument(fmt::format(
        "--ports: give two port specs SPEC_A,SPEC_B (generator on A, responder on B), e.g. "
        "afpacket:eth1,afpacket:eth2 or vfio:0000:00:03.0,vfio:0000:00:04.0; got '{}'",
        ports));
  }
  if (a == b) return invalid_argument(fmt::format("--ports: A and B are the same port '{}': give two connected ports", a));
  for (const auto& spec : {a, b}) {
    // Every parameter is checked here, before the bench allocates anything.
    if (auto checked = net::check_port_spec(spec); !checked) {
      return Error{checked.error().code, fmt::format("--ports: {}", checked.error().message)};
    }
    if (spec.rfind("udp:", 0) == 0) {
      return invalid_argument(fmt::format(
          "--ports: '{}': udp ports are addressed by IP and UDP port through the kernel, not by port B's MAC; "
          "measure them with --backends udp, or give frame-level ports (afpacket, afxdp, memif, vfio)",
          spec));
    }
  }
  BenchBackend backend;
  backend.name = ports;
  backend.kind = a.substr(0, a.find(':'));
  backend.summary = fmt::format("given ports: generator on {}, responder on {}", a, b);
  backend.given_generator_spec = a;
  backend.given_responder_spec = b;
  return backend;
}

double BackendLatency::sustained_per_second() const noexcept {
  if (generator.elapsed_ns == 0) return 0;
  return static_cast<double>(generator.received) * 1e9 / static_cast<double>(generator.elapsed_ns);
}

bool BackendLatency::overloaded() const noexcept {
  return error.empty() && rate_per_second > 0 && generator.sent > 0 &&
         sustained_per_second() < sustained_share_min * rate_per_second;
}

GeneratorConfig probe_generator_config(const LatencyBenchConfig& config, const net::VethEnd& source,
                                       const net::VethEnd& destination) {
  GeneratorConfig generator;
  generator.source = net::UdpEndpoint{source.mac, source.ip_be, htons(probe_port)};
  generator.destination = net::UdpEndpoint{destination.mac, destination.ip_be, htons(probe_port)};
  generator.rate_per_second = config.rate_per_second;
  generator.warmup_probes = config.warmup_probes;
  generator.probes = config.rate_per_second > 0 ? static_cast<std::uint64_t>(config.rate_per_second * config.seconds)
                                                : config.closed_loop_probes;
  generator.frame_size = config.frame_size;
  return generator;
}

Result<dataplane::WorkerStats> drive_generator(LatencyGenerator& generator, const LatencyBenchConfig& config,
                                               const std::string& name, const std::atomic<bool>& stop,
                                               const ProgressFunction& progress) {
  auto worker = dataplane::Worker::start({config.generator_cpu, config.fifo_priority, "aether-gen"}, {&generator}, &stop);
  if (!worker) return std::move(worker).error();
  auto last_progress = std::chrono::steady_clock::now();
  while (!generator.finished() && !stop.load(std::memory_order_relaxed)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto now = std::chrono::steady_clock::now();
    if (progress && now - last_progress >= std::chrono::seconds(1)) {
      last_progress = now;
      progress(fmt::format("  {}: {} probes sent", name, generator.progress_sent()));
    }
  }
  const auto stats = (*worker)->join();
  generator.close();
  return stats;
}

double cpu_percent(std::uint64_t cpu_time_ns, std::chrono::steady_clock::time_point since) {
  const auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - since).count();
  return wall > 0 ? 100.0 * static_cast<double>(cpu_time_ns) / static_cast<double>(wall) : 0;
}

namespace {
// An overloaded path is measured again at this share of what it sustained.
constexpr double rerun_share = 0.8;
constexpr double rerun_rate_min = 1000;

BackendLatency run_one(const BenchBackend& backend, const LatencyBenchConfig& config, const Clock& clock,
                       const std::atomic<bool>& stop, const ProgressFunction& progress) {
  BackendLatency out;
  out.backend = backend;
  out.rate_per_second = config.rate_per_second;
  auto link = PortsOnVeth::open_for(backend, probe_port);
  if (!link) {
    out.error = link.error().describe();
    return out;
  }
  out.generator_spec = link->generator_spec();
  out.responder_spec = link->responder_spec();
  out.mode = link->responder().port->info().mode;
  out.notes = link->responder().port->info().notes;

  dataplane::EchoResponder echo(link->responder().port->queue(0), *link->responder().pool);
  LatencyGenerator generator(probe_generator_config(config, link->end_a(), link->end_b()),
                             link->generator().port->queue(0), *link->generator().pool, clock);
  const auto started = std::chrono::steady_clock::now();
  // A responder whose queue offers a receive interrupt (udp-block, memif
  // mode=interrupt, vfio mode=interrupt) sleeps as soon as it finds nothing:
  // the classic blocking receive, with its wake-up cost, is what such a row
  // measures. The other queues have none, and the worker busy-polls them.
  dataplane::WorkerOptions responder_options{config.responder_cpu, config.fifo_priority, "aether-echo"};
  responder_options.idle_loops_before_sleep = 1;
  auto responder_worker = dataplane::Worker::start(responder_options, {&echo}, &stop);
  if (!responder_worker) {
    out.error = responder_worker.error().describe();
    return out;
  }
  auto generated = drive_generator(generator, config, backend.name, stop, progress);
  const auto responder_stats = (*responder_worker)->join();
  if (!generated) {
    out.error = generated.error().describe();
    return out;
  }
  out.generator = std::move(generator.result());
  out.generator_port = link->generator().port->stats();
  out.responder_port = link->responder().port->stats();
  out.responder_received = echo.counters().received.get();
  out.responder_sent = echo.counters().sent.get();
  out.responder_dropped = echo.counters().dropped_not_udp.get() + echo.counters().dropped_tx_full.get();
  out.responder_cpu_percent = cpu_percent(responder_stats.cpu_time_ns, started);
  out.generator_cpu_percent = cpu_percent(generated->cpu_time_ns, started);
  return out;
}

}  // namespace

LatencyBenchReport run_latency_bench(const LatencyBenchConfig& config, const Clock& clock,
                                     const std::atomic<bool>& stop, const ProgressFunction& progress) {
  LatencyBenchReport report;
  report.config = config;
  report.clock = clock.source() == ClockSource::tsc ? fmt::format("tsc {:.3f} GHz", clock.tsc_ghz())
                                                    : fmt::format("monotonic_raw ({})", clock.fallback_reason());
  report.environment = describe_host_environment();
  if (config.ring_messages > 0) {
    if (progress) progress("  ring floor: SPSC ring round trip between the two cores");
    RingRoundTripConfig ring;
    ring.initiator_cpu = config.generator_cpu;
    ring.responder_cpu = config.responder_cpu;
    ring.messages = config.ring_messages;
    ring.warmup_messages = std::min<std::uint64_t>(config.ring_messages, 10'000);
    auto floor = measure_ring_round_trip(ring);
    if (floor) {
      report.floor = std::move(*floor);
    } else {
      report.floor_error = floor.error().describe();
    }
  }
  for (const auto& backend : config.backends) {
    if (stop.load(std::memory_order_relaxed)) break;
    if (progress) progress(fmt::format("  {}: {}", backend.name, backend.summary));
    report.backends.push_back(run_one(backend, config, clock, stop, progress));
    const BackendLatency& measured = report.backends.back();
    if (config.rerun_overloaded && measured.overloaded() && !stop.load(std::memory_order_relaxed)) {
      // The row above reports a queue; measure the path itself at a rate it keeps up with.
      LatencyBenchConfig slower = config;
      slower.rate_per_second =
          std::max(rerun_rate_min, std::floor(rerun_share * measured.sustained_per_second() / 1000) * 1000);
      if (progress) {
        progress(fmt::format("  {}: sustained only {:.0f}/s of {:.0f}/s; measuring it again at {:.0f}/s", backend.name,
                             measured.sustained_per_second(), config.rate_per_second, slower.rate_per_second));
      }
      report.backends.push_back(run_one(backend, slower, clock, stop, progress));
    }
    if (config.vs_dpdk && backend.kind == "memif" && !backend.given()) {
      for (auto& row : run_memif_vs_dpdk(config, clock, stop, progress)) report.backends.push_back(std::move(row));
    }
  }
  report.interrupted = stop.load(std::memory_order_relaxed);
  return report;
}

}  // namespace aether::measure
