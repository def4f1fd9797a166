// `aether ping PORT --ip LOCAL --peer PEER`: proves a port exchanges traffic
// with a real IP stack. Resolves the peer's MAC with ARP, sends N ICMP echo
// requests and N UDP datagrams to its echo port, and prints what came back
// by kind, with the ICMP round trips' percentiles. Exit status 1 when
// anything is missing. Runs on the runtime (one pinned worker).
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "aether/dataplane/ping.hpp"
#include "aether/telemetry/dataplane_metrics.hpp"
#include "commands.hpp"
#include "one_port_runtime.hpp"

namespace aether::cli {
namespace {

struct PingCommandOptions {
  std::string port;
  std::string ip;
  std::string peer;
  unsigned count = 10;
  std::uint16_t udp_port = 7;
  unsigned interval_ms = 10;
  unsigned link_wait_ms = 5000;
  unsigned reply_timeout_ms = 2000;
  std::size_t buffers = 4096;
  int cpu = -1;          // -1: the last allowed CPU
  std::string metrics;   // --metrics HOST:PORT
  bool no_lock_memory = false;
};

// A port may open before its link is up (a NIC still negotiating): wait a
// little, and say so if it never comes.
void wait_for_link(net::Port& port, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (port.link_state() == net::LinkState::down && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (port.link_state() == net::LinkState::down) {
    fmt::print(stderr, "aether ping: link still down after {} ms; trying anyway\n", limit.count());
  }
}

void print_report(const PingCommandOptions& options, const dataplane::PingOptions& ping,
                  const dataplane::PingReport& report, net::Port& port) {
  const auto row = [](std::string_view kind, std::uint64_t sent, std::uint64_t replies, std::string_view note) {
    fmt::print("{:<14} {:>8} {:>8} {:>8}  {}\n", kind, sent, replies, sent > replies ? sent - replies : 0, note);
  };
  fmt::print("{:<14} {:>8} {:>8} {:>8}\n", "kind", "sent", "replies", "missing");
  row("ARP", report.arp_requests_sent, report.peer_mac ? 1 : 0,
      report.peer_mac ? fmt::format("{} is at {} ({} replies)", options.peer, net::format_mac(*report.peer_mac),
                                    report.arp_replies)
                      : fmt::format("no reply from {}", options.peer));
  row("ICMP echo", report.icmp_sent, report.icmp_replies, "");
  if (ping.udp_port != 0) row(fmt::format("UDP port {}", ping.udp_port), report.udp_sent, report.udp_replies, "");
  fmt::print("also: answered the peer's ARP requests {}, pings {}; duplicate replies {}; other frames {}; not sent {}\n",
             report.peer_arp_requests_answered, report.peer_icmp_requests_answered, report.duplicate_replies,
             report.other_frames, report.not_sent);
  const auto stats = port.stats();
  fmt::print("port: rx {} tx {}, rx drops {}, tx drops {}; link {}\n", stats.rx_packets, stats.tx_packets,
             stats.rx_drops(), stats.tx_drops(), net::to_string(port.link_state()));
}

// The ICMP round trips, as a tail: what a latency-minded reader wants
// besides the counts.
void print_round_trips(const LatencyHistogram& round_trips) {
  if (round_trips.count() == 0) return;
  const auto us = [&](double percentile) { return static_cast<double>(round_trips.percentile(percentile)) / 1e3; };
  fmt::print("ICMP round trip (us): min {:.1f} p50 {:.1f} p99 {:.1f} p99.9 {:.1f} max {:.1f} ({} replies)\n",
             static_cast<double>(round_trips.min()) / 1e3, us(50), us(99), us(99.9),
             static_cast<double>(round_trips.max()) / 1e3, round_trips.count());
}

// ping on the runtime: one port, the worker "aether-ping" running the
// exchange as a poller; the control thread waits for the link, ends the
// run when the exchange is over, serves --metrics (the live round-trip
// summary included) and prints the report.
int run_ping(const PingCommandOptions& options) {
  OnePortOptions one_port;
  one_port.spec = options.port;
  one_port.buffers = options.buffers;
  one_port.cpu = options.cpu;
  one_port.metrics = options.metrics;
  one_port.lock_memory = !options.no_lock_memory;
  auto created = create_one_port_runtime(one_port, "aether-ping", "ping", "aether ping");
  if (!created) {
    fmt::print(stderr, "aether ping: {}\n", created.error().describe());
    return exit_failure;
  }
  runtime::Runtime& rt = **created;
  net::Port& port = *rt.port("port").value();
  dataplane::PingOptions ping;
  ping.local = dataplane::LocalAddress{port.info().mac, *net::parse_ipv4_be(options.ip)};  // validated by CLI11
  ping.peer_ip_be = *net::parse_ipv4_be(options.peer);
  ping.count = options.count;
  ping.udp_port = options.udp_port;
  ping.interval = std::chrono::milliseconds(options.interval_ms);
  ping.reply_timeout = std::chrono::milliseconds(options.reply_timeout_ms);
  auto poller = dataplane::PingPoller::create(port.queue(0), *rt.pool_of_port("port").value(), ping);
  if (!poller) {
    fmt::print(stderr, "aether ping: {}\n", poller.error().describe());
    return exit_failure;
  }
  dataplane::PingPoller& pinger = **poller;
  if (auto added = rt.add_poller("ping", pinger); !added) {
    fmt::print(stderr, "aether ping: {}\n", added.error().describe());
    return exit_failure;
  }
  const telemetry::SourceHandle rtt_source = telemetry::add_latency_histogram(
      rt.metrics(), pinger.round_trips(), "aether_ping_round_trip_seconds",
      "ICMP echo round trips, request sent to reply received (first reply of each sequence number)", "poller", "ping");
  wait_for_link(port, std::chrono::milliseconds(options.link_wait_ms));
  fmt::print("aether ping: {} ({}) -> {} on {}: {} ICMP echo requests{}\n", options.ip, net::format_mac(ping.local.mac),
             options.peer, options.port, ping.count,
             ping.udp_port != 0 ? fmt::format(" and {} UDP datagrams to port {}", ping.count, ping.udp_port) : "");
  std::fflush(stdout);
  runtime::RunOptions run_options;
  run_options.control_interval = std::chrono::milliseconds(10);  // the exchange's end is seen within this
  run_options.on_tick = [&](std::chrono::nanoseconds) {
    if (pinger.done()) rt.stop();
  };
  auto run = rt.run(run_options);
  if (!run) {
    fmt::print(stderr, "aether ping: {}\n", run.error().describe());
    return exit_failure;
  }
  if (!pinger.done()) {
    // Ctrl-C or a device fault ended the run: the worker is joined, so this
    // thread may finish the exchange (one more burst, the report stopped).
    pinger.stop();
    pinger.poll();
  }
  for (const runtime::DeviceFault& fault : run->faults) {
    fmt::print(stderr, "aether ping: device fault, stopped: {}\n", fault.what);
  }
  const dataplane::PingReport& report = pinger.report();
  print_report(options, ping, report, port);
  print_round_trips(pinger.round_trips().live());
  if (report.complete(ping)) {
    fmt::print("result: complete\n");
    return exit_ok;
  }
  fmt::print("result: INCOMPLETE{}\n", report.stopped ? " (stopped)" : "");
  return exit_failure;
}

}  // namespace

void register_ping(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<PingCommandOptions>();
  CLI::App* ping = app.add_subcommand(
      "ping", "Resolve a peer by ARP, send it ICMP echo requests and UDP datagrams, count the replies by kind");
  ping->add_option("PORT", options->port, "Port spec, e.g. afpacket:veth0 or vfio:0000:00:03.0")->required();
  ping->add_option("--ip", options->ip, "This end's IPv4 address (the port's MAC goes with it)")
      ->required()
      ->check(CLI::ValidIPV4);
  ping->add_option("--peer", options->peer, "The peer's IPv4 address")->required()->check(CLI::ValidIPV4);
  ping->add_option("--count", options->count, "ICMP echo requests, and as many UDP datagrams")
      ->default_val(10)
      ->check(CLI::Range(1, 65536));
  ping->add_option("--udp-port", options->udp_port, "The peer's UDP echo port (0: no UDP)")->default_val(7);
  ping->add_option("--interval-ms", options->interval_ms, "Between one request pair and the next")->default_val(10);
  ping->add_option("--timeout-ms", options->reply_timeout_ms, "Wait this long for late replies after the last request")
      ->default_val(2000);
  ping->add_option("--link-wait-ms", options->link_wait_ms, "Wait up to this long for the link to come up first")
      ->default_val(5000);
  ping->add_option("--buffers", options->buffers, "Packet buffers for the port")->default_val(4096)->check(CLI::Range(256, 1 << 20));
  ping->add_option("--cpu", options->cpu, "CPU for the worker (default: the last allowed CPU)")
      ->check(CLI::NonNegativeNumber);
  ping->add_option("--metrics", options->metrics,
                   "Serve Prometheus/OpenMetrics at http://HOST:PORT/metrics while running, the round-trip summary "
                   "aether_ping_round_trip_seconds included (off by default)");
  ping->add_flag("--no-lock-memory", options->no_lock_memory,
                 "Do not mlockall (locking needs root, CAP_IPC_LOCK or a large ulimit -l)");
  ping->callback([options, &exit_code] { exit_code = run_ping(*options); });
}

}  // namespace aether::cli
