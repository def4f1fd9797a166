// `aether echo PORT` and `aether fwd PORT_A PORT_B`: the reference data
// planes, each on one pinned run-to-completion core, with live rates.
// echo runs on the runtime (include/aether/runtime/): this file only turns
// its options into a RuntimeConfig and prints.
#include <chrono>
#include <cmath>
#include <initializer_list>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "aether/core/thread_setup.hpp"
#include "aether/dataplane/echo.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port_registry.hpp"
#include "aether/net/xstat.hpp"
#include "aether/runtime/runtime.hpp"
#include "aether/telemetry/dataplane_metrics.hpp"
#include "aether/telemetry/metrics_server.hpp"
#include "commands.hpp"
#include "aether/runtime/stop_signal.hpp"
#include "partition_placement.hpp"
#include "one_port_runtime.hpp"
#include "opened_port.hpp"

namespace aether::cli {
namespace {

struct DataplaneOptions {
  std::vector<std::string> ports;
  int cpu = -1;  // -1: the last allowed CPU
  double seconds = 0;  // 0: until Ctrl-C
  int fifo_priority = 0;
  std::size_t buffers = 8192;
  PartitionPlacementOptions partition;  // --partition: the worker on an Aether CPU
  std::string ip;  // echo --ip: answer ARP and ICMP echo for this address
  std::string metrics;  // --metrics HOST:PORT: serve GET /metrics there (docs/telemetry.md)
  bool pool_per_port = false;  // fwd --pool-per-port: the copy path, for comparison
  bool no_lock_memory = false;  // echo --no-lock-memory: skip mlockall (needs CAP_IPC_LOCK or ulimit -l)
};

// --metrics: the endpoint, bound before any port is opened so that a bad or
// busy address fails first; none without the option.
Result<std::unique_ptr<telemetry::MetricsServer>> start_metrics(const DataplaneOptions& options,
                                                                telemetry::MetricsRegistry& registry,
                                                                std::string_view command) {
  if (options.metrics.empty()) return std::unique_ptr<telemetry::MetricsServer>();
  auto server = telemetry::MetricsServer::start(options.metrics, registry);
  if (server) fmt::print(stderr, "{}: metrics on http://{}/metrics\n", command, (*server)->address());
  return server;
}

// With --partition an Aether CPU (--cpu must name one); else --cpu, else the
// last allowed CPU.
Result<unsigned> choose_cpu(const DataplaneOptions& options, std::string_view command) {
  // Every port spec first: a typo is an error before --partition joins a
  // cpuset or a pool is allocated (and warns about hugepages).
  if (auto checked = check_port_specs(options.ports); !checked) return std::move(checked).error();
  if (options.partition.enabled) {
    std::vector<unsigned> requested;
    if (options.cpu >= 0) requested.push_back(static_cast<unsigned>(options.cpu));
    auto cpus = place_workers_on_partition(options.partition, requested, "--cpu", 1, command);
    if (!cpus) return std::move(cpus).error();
    return cpus->front();
  }
  if (options.cpu >= 0) return static_cast<unsigned>(options.cpu);
  auto allowed = allowed_cpus();
  if (!allowed) return std::move(allowed).error();
  return allowed->back();
}

// The port's own counters (xstats) and its rx timestamp source, one line.
void print_port_xstats(const net::Port& port) {
  std::string line = fmt::format("{} ({} rx timestamps):", port.info().spec, net::to_string(port.rx_timestamp_source()));
  for (const auto& stat : port.xstats()) line += fmt::format(" {}={}", stat.name, stat.value);
  fmt::print("{}\n", line);
}

// Prints one line per second until stopped; `line` gets the seconds elapsed.
// Stops early, returning it, when one of `ports` reports a device fault (a
// userspace driver's device reset underneath it, or gone).
// Between lines it answers metrics scrapes when `metrics` is not null.
std::optional<std::string> report_every_second(const DataplaneOptions& options, telemetry::MetricsServer* metrics,
                                               std::initializer_list<const net::Port*> ports,
                                               const std::function<std::string(double)>& line) {
  const auto& stop = runtime::install_stop_signals();
  const auto start = std::chrono::steady_clock::now();
  auto next = start + std::chrono::seconds(1);
  while (!stop.load(std::memory_order_relaxed)) {
    if (metrics != nullptr) {
      metrics->serve_until(next);
    } else {
      std::this_thread::sleep_until(next);
    }
    next += std::chrono::seconds(1);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("{}\n", line(elapsed));
    std::fflush(stdout);
    for (const net::Port* port : ports) {
      if (auto fault = port->device_fault()) return fault;
    }
    if (options.seconds > 0 && elapsed >= options.seconds) break;
  }
  return std::nullopt;
}

// The echo's line of one second: rates since the last line, drops so far.
std::string echo_rates_line(const dataplane::EchoResponder& echo, const net::Port& port, bool local, double elapsed,
                            std::uint64_t& last_received, std::uint64_t& last_sent) {
  const auto& c = echo.counters();
  const std::uint64_t received = c.received.get(), sent = c.sent.get();
  std::string line = fmt::format("{:7.1f} s  rx {:>10} pps  tx {:>10} pps  dropped: not udp {}, tx full {}", elapsed,
                                 received - last_received, sent - last_sent, c.dropped_not_udp.get(), c.dropped_tx_full.get());
  if (local) {
    line += fmt::format(", not for us {}, malformed {}; answered arp {} icmp {} udp {}; link {}", c.dropped_not_for_us.get(),
                        c.dropped_malformed.get(), c.arp_replies.get(), c.icmp_replies.get(), c.udp_replies.get(),
                        net::to_string(port.link_state()));
  }
  last_received = received;
  last_sent = sent;
  return line;
}

// echo on the runtime: one port, the worker "aether-echo" running the
// poller "echo"; once-a-second lines from the control thread's tick.
int run_echo(const DataplaneOptions& options) {
  const OnePortOptions one_port{options.ports.at(0), options.buffers,   options.cpu,     options.fifo_priority,
                                options.partition,   options.metrics,   !options.no_lock_memory};
  auto created = create_one_port_runtime(one_port, "aether-echo", "echo", "aether echo");
  if (!created) {
    fmt::print(stderr, "aether echo: {}\n", created.error().describe());
    return exit_failure;
  }
  runtime::Runtime& rt = **created;
  net::Port& port = *rt.port("port").value();
  std::optional<dataplane::LocalAddress> local;
  if (!options.ip.empty()) {
    // The address is checked by the option's validator; the MAC is the port's.
    local = dataplane::LocalAddress{port.info().mac, *net::parse_ipv4_be(options.ip)};
    fmt::print(stderr, "aether echo: answering ARP and ICMP echo for {} at {}; UDP to it echoed\n", options.ip,
               net::format_mac(local->mac));
  }
  dataplane::EchoResponder echo(port.queue(0), *rt.pool_of_port("port").value(), local);
  if (auto added = rt.add_poller("echo", echo); !added) {
    fmt::print(stderr, "aether echo: {}\n", added.error().describe());
    return exit_failure;
  }
  const telemetry::SourceHandle echo_source = telemetry::add_echo(rt.metrics(), echo, "echo");

  runtime::RunOptions run_options;
  run_options.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(options.seconds));
  // The first tick comes once the worker runs: "answering" means it is.
  bool announced = false;
  double next_line = 1;
  std::uint64_t last_received = 0, last_sent = 0;
  run_options.on_tick = [&](std::chrono::nanoseconds since_start) {
    const double elapsed = std::chrono::duration<double>(since_start).count();
    if (!announced) {
      announced = true;
      fmt::print(stderr, "aether echo: answering on CPU {} (Ctrl-C to stop){}\n", rt.worker_cpus().front(),
                 port.queue(0).rx_interrupt_fd() >= 0 ? "; sleeping on the receive interrupt when idle" : "");
    }
    if (elapsed < next_line) return;
    next_line = std::floor(elapsed) + 1;
    fmt::print("{}\n", echo_rates_line(echo, port, local.has_value(), elapsed, last_received, last_sent));
    std::fflush(stdout);
  };
  auto report = rt.run(run_options);
  if (!report) {
    fmt::print(stderr, "aether echo: {}\n", report.error().describe());
    return exit_failure;
  }
  const dataplane::WorkerStats& worker_stats = report->workers.front().stats;
  const auto& c = echo.counters();
  const auto port_stats = port.stats();
  if (worker_stats.interrupt_mode) {
    fmt::print("worker: interrupt mode: slept {} times, {} woken by a receive interrupt\n", worker_stats.sleeps,
               worker_stats.wakeups);
  }
  fmt::print("total: received {}, echoed {}, dropped {} (not IPv4/UDP {}, tx full {}); port rx drops {}, tx drops {}\n",
             c.received.get(), c.sent.get(), c.dropped(), c.dropped_not_udp.get(), c.dropped_tx_full.get(),
             port_stats.rx_drops(), port_stats.tx_drops());
  print_port_xstats(port);
  if (local) {
    fmt::print("answered: arp {}, icmp echo {}, udp {}; dropped: not for {} {}, malformed arp/icmp {}\n",
               c.arp_replies.get(), c.icmp_replies.get(), c.udp_replies.get(), options.ip, c.dropped_not_for_us.get(),
               c.dropped_malformed.get());
  }
  if (!report->faults.empty()) {
    fmt::print(stderr, "aether echo: device fault, stopped: {}\n", report->faults.back().what);
    return exit_failure;
  }
  return exit_ok;
}

// Frames that crossed pools on the way out: copied into the sending port's
// pool, or freed to the other pool without a cache. Both 0 with one pool.
void print_pool_crossings(const net::Port& a, const net::Port& b, std::uint64_t forwarded) {
  const std::uint64_t copies = net::xstat_or_zero(a, "tx_foreign_copies") + net::xstat_or_zero(b, "tx_foreign_copies");
  const std::uint64_t frees = net::xstat_or_zero(a, "tx_foreign_frees") + net::xstat_or_zero(b, "tx_foreign_frees");
  const double per_frame = forwarded == 0 ? 0.0 : static_cast<double>(copies) / static_cast<double>(forwarded);
  fmt::print("pools: {} frames copied between pools ({:.3f} per forwarded frame), {} freed to another pool's ring\n",
             copies, per_frame, frees);
}

int run_fwd(const DataplaneOptions& options) {
  auto cpu = choose_cpu(options, "aether fwd");
  if (!cpu) {
    fmt::print(stderr, "aether fwd: {}\n", cpu.error().describe());
    return exit_failure;
  }
  telemetry::MetricsRegistry registry;  // before every source it will hold
  auto metrics = start_metrics(options, registry, "aether fwd");
  if (!metrics) {
    fmt::print(stderr, "aether fwd: {}\n", metrics.error().describe());
    return exit_failure;
  }
  // One pool for both ports (the default): a frame received on one leaves
  // the other from the same buffer, and the sending queue frees it into its
  // own cache. --pool-per-port gives each its own: every frame then crosses
  // pools (copied by afxdp, memif and vfio; freed to the other pool's ring,
  // one CAS each, by udp and afpacket), counted in the tx_foreign_* xstats.
  std::vector<std::unique_ptr<mem::Mempool>> pools;  // declared before the ports: freed after them
  for (std::size_t i = 0; i < (options.pool_per_port ? 2 : 1); ++i) {
    const std::size_t buffers = options.pool_per_port ? options.buffers : 2 * options.buffers;
    const std::string name = options.pool_per_port ? fmt::format("port{}", i) : "fwd";
    auto pool = mem::Mempool::create(net::default_packet_pool_config(buffers, name));
    if (!pool) {
      fmt::print(stderr, "aether fwd: {}\n", pool.error().describe());
      return exit_failure;
    }
    pools.push_back(std::move(*pool));
  }
  mem::Mempool& pool_a = *pools.front();
  mem::Mempool& pool_b = *pools.back();
  auto a = open_port_on_pool(options.ports.at(0), 0, pool_a);
  auto b = a ? open_port_on_pool(options.ports.at(1), 1, pool_b) : Result<std::unique_ptr<net::Port>>(a.error());
  if (!b) {
    fmt::print(stderr, "aether fwd: {}\n", b.error().describe());
    return exit_failure;
  }
  fmt::print(stderr, "aether fwd: {}\n", options.pool_per_port ? "a pool per port (--pool-per-port): frames cross pools"
                                                               : "one pool shared by both ports: frames are handed over");
  // An L2 forwarder takes every frame on the wire, not only those addressed
  // to its ports (testpmd's io mode turns promiscuous mode on too). A
  // backend that has no receive mode (udp) says so and fwd goes on.
  for (net::Port* port : {a->get(), b->get()}) {
    if (auto promiscuous = port->set_promiscuous(true); !promiscuous) {
      fmt::print(stderr, "aether fwd: {}: not promiscuous: {}\n", port->info().spec, promiscuous.error().message);
    }
  }
  // Each direction frees what it could not send into the pool it came from.
  dataplane::Forwarder a_to_b((*a)->queue(0), (*b)->queue(0), pool_a);
  dataplane::Forwarder b_to_a((*b)->queue(0), (*a)->queue(0), pool_b);
  dataplane::WorkerOptions worker_options{*cpu, std::nullopt, "aether-fwd"};
  if (options.fifo_priority > 0) worker_options.fifo_priority = options.fifo_priority;
  auto worker = dataplane::Worker::start(worker_options, {&a_to_b, &b_to_a});
  if (!worker) {
    fmt::print(stderr, "aether fwd: {}\n", worker.error().describe());
    return exit_failure;
  }
  const telemetry::SourceHandle sources[] = {
      telemetry::add_port(registry, **a, options.ports.at(0)), telemetry::add_port(registry, **b, options.ports.at(1)),
      telemetry::add_worker(registry, **worker), telemetry::add_forwarder(registry, a_to_b, "a_to_b"),
      telemetry::add_forwarder(registry, b_to_a, "b_to_a")};
  fmt::print(stderr, "aether fwd: forwarding on CPU {} (Ctrl-C to stop)\n", *cpu);
  std::uint64_t last_ab = 0, last_ba = 0;
  const auto fault = report_every_second(options, metrics->get(), {a->get(), b->get()}, [&](double elapsed) {
    const std::uint64_t ab = a_to_b.forwarded(), ba = b_to_a.forwarded();
    std::string line = fmt::format("{:7.1f} s  A->B {:>10} pps  B->A {:>10} pps  dropped A->B {}, B->A {}", elapsed,
                                   ab - last_ab, ba - last_ba, a_to_b.dropped(), b_to_a.dropped());
    last_ab = ab;
    last_ba = ba;
    return line;
  });
  (*worker)->join();
  fmt::print("total: A->B forwarded {} dropped {}; B->A forwarded {} dropped {}\n", a_to_b.forwarded(), a_to_b.dropped(),
             b_to_a.forwarded(), b_to_a.dropped());
  print_port_xstats(**a);
  print_port_xstats(**b);
  print_pool_crossings(**a, **b, a_to_b.forwarded() + b_to_a.forwarded());
  if (fault) {
    fmt::print(stderr, "aether fwd: device fault, stopped: {}\n", *fault);
    return exit_failure;
  }
  return exit_ok;
}

void add_common_options(CLI::App& command, DataplaneOptions& options) {
  command.add_option("--cpu", options.cpu, "CPU for the worker (default: the last allowed CPU)")->check(CLI::NonNegativeNumber);
  command.add_option("--seconds", options.seconds, "Stop after this many seconds (default: run until Ctrl-C)")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--fifo", options.fifo_priority, "Run the worker SCHED_FIFO at this priority (1-99)")->check(CLI::Range(1, 99));
  command.add_option("--buffers", options.buffers, "Packet buffers per port")->default_val(8192)->check(CLI::Range(256, 1 << 20));
  add_partition_options(command, options.partition);
  command.add_option("--metrics", options.metrics,
                     "Serve Prometheus/OpenMetrics at http://HOST:PORT/metrics while running, e.g. 127.0.0.1:9464 "
                     "(off by default; read it with `aether stats HOST:PORT`)");
}

}  // namespace

void register_dataplane(CLI::App& app, int& exit_code) {
  constexpr const char* spec_help =
      "Port spec KIND:TARGET[?KEY=VALUE&...], e.g. udp:10.9.0.1:9000, afpacket:veth0, afxdp:veth0?mode=native";
  auto echo_options = std::make_shared<DataplaneOptions>();
  CLI::App* echo = app.add_subcommand(
      "echo", "UDP echo responder: answers every IPv4/UDP frame with MAC, IP and port swapped; prints rates every second");
  echo->add_option("PORT", echo_options->ports, spec_help)->required()->expected(1);
  add_common_options(*echo, *echo_options);
  echo->add_option("--ip", echo_options->ip,
                   "Behave as a host at this IPv4 address: answer ARP requests for it and ICMP echo requests to it, "
                   "echo only UDP sent to it")
      ->check(CLI::ValidIPV4);
  echo->add_flag("--no-lock-memory", echo_options->no_lock_memory,
                 "Do not mlockall (locking needs root, CAP_IPC_LOCK or a large ulimit -l; without it a page fault can "
                 "stall the worker)");
  echo->callback([echo_options, &exit_code] { exit_code = run_echo(*echo_options); });

  auto fwd_options = std::make_shared<DataplaneOptions>();
  CLI::App* fwd = app.add_subcommand(
      "fwd", "L2 forwarder: everything received on PORT_A leaves PORT_B unchanged, and back (testpmd's io mode)");
  fwd->add_option("PORTS", fwd_options->ports, "PORT_A PORT_B, each a port spec as for echo")->required()->expected(2);
  add_common_options(*fwd, *fwd_options);
  fwd->add_flag("--pool-per-port", fwd_options->pool_per_port,
                "Give each port a pool of its own (the copy path, to compare): by default both share one pool of "
                "2 x --buffers, so a forwarded frame leaves from the buffer it arrived in");
  fwd->callback([fwd_options, &exit_code] { exit_code = run_fwd(*fwd_options); });
}

}  // namespace aether::cli
