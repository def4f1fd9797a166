// `aether bench fwd`: a forwarder between two ports on one pool against the
// same forwarder on a pool per port (see fwd_bench.hpp).
#include "aether/measure/fwd_bench.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/host_environment.hpp"
#include "aether/dataplane/echo.hpp"
#include "aether/dataplane/traffic.hpp"
#include "aether/measure/comparison.hpp"
#include "aether/net/frame.hpp"
#include "aether/net/network_namespace.hpp"
#include "aether/net/port_registry.hpp"
#include "aether/net/xstat.hpp"
#include "measured_window.hpp"

namespace aether::measure {
namespace {

constexpr std::size_t pool_buffers = 8192;

// sender -> link 1 -> in => out -> link 2 -> sink. Members are destroyed
// in reverse: ports first, then pools, then the veth pairs.
struct Chain {
  std::vector<std::unique_ptr<net::VethPair>> veths;
  std::vector<std::unique_ptr<mem::Mempool>> pools;  // edge (sender, sink), in, [out]
  std::unique_ptr<net::Port> sender, in, out, sink;
  net::MacAddress in_mac{};  // where the sender addresses its frames
  std::uint32_t in_ip_be = 0;
  std::uint32_t sender_ip_be = 0;
};

Result<std::unique_ptr<mem::Mempool>> make_pool(const std::string& name) {
  return mem::Mempool::create(net::default_packet_pool_config(pool_buffers, name));
}

// Opens `spec` on `pool` inside `ns` (null: the current namespace).
Result<std::unique_ptr<net::Port>> open_on(const net::NetworkNamespace* ns, const std::string& spec,
                                           mem::Mempool& pool, std::uint16_t id) {
  std::optional<net::ScopedNamespace> entered;
  if (ns != nullptr) {
    auto scoped = net::ScopedNamespace::enter(*ns);
    if (!scoped) return std::move(scoped).error();
    entered.emplace(std::move(*scoped));
  }
  return net::open_port(spec, net::PortOptions{&pool, id});
}

Result<void> wait_for_links(const Chain& chain) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (const net::Port* port : {chain.sender.get(), chain.in.get(), chain.out.get(), chain.sink.get()}) {
    while (port->link_state() == net::LinkState::down) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return Error{std::make_error_code(std::errc::timed_out), port->info().spec + ": link not up after 5 s"};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return {};
}

// One port to open: where it goes, its namespace (null: this one), spec,
// pool and id.
struct PortToOpen {
  std::unique_ptr<net::Port>* slot;
  const net::NetworkNamespace* ns;
  std::string spec;
  mem::Mempool* pool;
  std::uint16_t id;
};

Result<Chain> open_chain(const std::string& kind, bool shared) {
  Chain chain;
  for (const char* name : {"fwd-edge", "fwd-in", "fwd-out"}) {
    if (shared && std::string_view(name) == "fwd-out") break;
    auto pool = make_pool(name);
    if (!pool) return std::move(pool).error();
    chain.pools.push_back(std::move(*pool));
  }
  mem::Mempool* edge = chain.pools[0].get();
  mem::Mempool* in_pool = chain.pools[1].get();
  mem::Mempool* out_pool = chain.pools.back().get();
  std::vector<PortToOpen> ports;
  if (kind == "memif") {
    // Abstract sockets: unique per process and run, nothing to clean up.
    static std::atomic<unsigned> runs{0};
    const unsigned run = runs++;
    const std::string link1 = fmt::format("memif:@aether-fwd-{}-{}-1", ::getpid(), run);
    const std::string link2 = fmt::format("memif:@aether-fwd-{}-{}-2", ::getpid(), run);
    // Servers first (they listen); `out` is the zero-copy client, which
    // lends its pool's buffers: the case a shared pool changes.
    ports = {{&chain.in, nullptr, link1 + "?role=server", in_pool, 1},
             {&chain.sink, nullptr, link2 + "?role=server", edge, 3},
             {&chain.sender, nullptr, link1 + "?role=client", edge, 0},
             {&chain.out, nullptr, link2 + "?role=client", out_pool, 2}};
    chain.in_mac = net::MacAddress{{0x02, 0, 0, 0, 0, 2}};
    chain.in_ip_be = htonl(0x0a4f0002);
    chain.sender_ip_be = htonl(0x0a4f0001);
  } else {
    for (unsigned pair = 0; pair < 2; ++pair) {
      net::VethPairConfig config;
      config.name_a = fmt::format("afwd{}a", pair);
      config.name_b = fmt::format("afwd{}b", pair);
      config.ip_a = fmt::format("10.79.{}.1", pair);
      config.ip_b = fmt::format("10.79.{}.2", pair);
      config.kernel_addresses = false;  // raw backends: the kernel stays out of it
      auto veth = net::VethPair::create(config);
      if (!veth) return std::move(veth).error();
      chain.veths.push_back(std::make_unique<net::VethPair>(std::move(*veth)));
    }
    const net::VethPair& link1 = *chain.veths[0];
    const net::VethPair& link2 = *chain.veths[1];
    auto spec = [&](const net::VethEnd& end) { return kind + ":" + end.name; };
    ports = {{&chain.sender, &link1.namespace_a(), spec(link1.end_a()), edge, 0},
             {&chain.in, &link1.namespace_b(), spec(link1.end_b()), in_pool, 1},
             {&chain.out, &link2.namespace_a(), spec(link2.end_a()), out_pool, 2},
             {&chain.sink, &link2.namespace_b(), spec(link2.end_b()), edge, 3}};
    chain.in_mac = link1.end_b().mac;
    chain.in_ip_be = link1.end_b().ip_be;
    chain.sender_ip_be = link1.end_a().ip_be;
  }
  for (const PortToOpen& port : ports) {
    auto opened = open_on(port.ns, port.spec, *port.pool, port.id);
    if (!opened) return std::move(opened).error();
    *port.slot = std::move(*opened);
  }
  if (auto up = wait_for_links(chain); !up) return std::move(up).error();
  return chain;
}

FwdRun run_one(const FwdBenchConfig& config, bool shared, const std::atomic<bool>& stop) {
  FwdRun out;
  out.shared_pool = shared;
  auto chain = open_chain(config.kind, shared);
  if (!chain) {
    out.error = chain.error().describe();
    return out;
  }
  out.mode = fmt::format("in: {}; out: {}", chain->in->info().mode, chain->out->info().mode);
  std::vector<std::byte> frame(config.frame_size);
  constexpr std::uint16_t udp_port = 9002;
  const net::UdpEndpoint from{net::MacAddress{{0x02, 0, 0, 0, 0, 1}}, chain->sender_ip_be, htons(udp_port)};
  const net::UdpEndpoint to{chain->in_mac, chain->in_ip_be, htons(udp_port)};
  if (net::write_udp_headers(frame, from, to, config.frame_size - net::udp_frame_header_size) != config.frame_size) {
    out.error = fmt::format("cannot build a {}-byte frame", config.frame_size);
    return out;
  }
  mem::Mempool& edge = *chain->pools[0];
  dataplane::TrafficSender sender(chain->sender->queue(0), edge, std::move(frame));
  dataplane::TrafficSink sink(chain->sink->queue(0), edge);
  // Drops (out refused a frame) go back to the pool the frame came from.
  dataplane::Forwarder forwarder(chain->in->queue(0), chain->out->queue(0), *chain->pools[1]);
  auto forwarder_worker = dataplane::Worker::start({config.forwarder_cpu, config.fifo_priority, "aether-fwd"},
                                                   {&forwarder}, &stop);
  if (!forwarder_worker) {
    out.error = forwarder_worker.error().describe();
    return out;
  }
  auto traffic_worker =
      dataplane::Worker::start({config.traffic_cpu, config.fifo_priority, "aether-traffic"}, {&sink, &sender}, &stop);
  if (!traffic_worker) {
    out.error = traffic_worker.error().describe();
    return out;
  }
  std::uint64_t sent0 = 0, forwarded0 = 0, received0 = 0;
  out.seconds = measured_window(config.seconds, stop, [&] {
    sent0 = sender.sent();
    forwarded0 = forwarder.forwarded();
    received0 = sink.received();
  });
  out.sent = sender.sent() - sent0;
  out.forwarded = forwarder.forwarded() - forwarded0;
  out.received = sink.received() - received0;
  sender.pause();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let what is in flight land
  (*traffic_worker)->join();
  out.forwarder_worker = (*forwarder_worker)->join();
  // Whole-run totals, read after the forwarder stopped: exact, not sampled.
  out.forwarded_total = forwarder.forwarded();
  out.copies = net::xstat_or_zero(*chain->out, "tx_foreign_copies");
  out.foreign_frees = net::xstat_or_zero(*chain->out, "tx_foreign_frees");
  return out;
}

}  // namespace

std::optional<double> FwdBenchReport::shared_over_copy() const {
  if (runs.size() != 2 || !runs[0].error.empty() || !runs[1].error.empty() || runs[1].forwarded_mpps() <= 0) {
    return std::nullopt;
  }
  return runs[0].forwarded_mpps() / runs[1].forwarded_mpps();
}

Result<void> check_fwd_bench_kind(const std::string& kind) {
  if (kind == "afxdp" || kind == "afpacket" || kind == "memif") return {};
  return invalid_argument(fmt::format("--backend {}: the forwarding bench runs afxdp, afpacket (veth pairs, root) "
                                      "or memif (in this process)",
                                      kind));
}

FwdBenchReport run_fwd_bench(const FwdBenchConfig& config, const std::atomic<bool>& stop,
                             const ProgressFunction& progress) {
  FwdBenchReport report;
  report.config = config;
  report.environment = describe_host_environment();
  for (const bool shared : {true, false}) {
    if (stop.load(std::memory_order_relaxed)) {
      report.interrupted = true;
      break;
    }
    progress(fmt::format("fwd {} {} B, {}: {:.1f} s", config.kind, config.frame_size,
                         shared ? "one shared pool" : "a pool per port", config.seconds));
    report.runs.push_back(run_one(config, shared, stop));
  }
  report.interrupted = report.interrupted || stop.load(std::memory_order_relaxed);
  return report;
}

std::string format_fwd_table(const FwdBenchReport& report) {
  std::string out = fmt::format("aether bench fwd: {} -> in => out -> {}, {}-byte frames, forwarder on CPU {}, "
                                "sender and sink on CPU {}\n",
                                report.config.kind, report.config.kind, report.config.frame_size,
                                report.config.forwarder_cpu, report.config.traffic_cpu);
  for (const auto& [key, value] : report.environment) out += fmt::format("  {}: {}\n", key, value);
  out += fmt::format("{:<18} {:>10} {:>10} {:>10} {:>16} {:>14}  {}\n", "pools", "fwd Mpps", "sent Mpps", "sink Mpps",
                     "copies/fwd frame", "foreign frees", "vs pool per port");
  const FwdRun* copy_path = report.runs.size() == 2 ? &report.runs[1] : nullptr;
  for (const FwdRun& run : report.runs) {
    const char* name = run.shared_pool ? "one shared pool" : "a pool per port";
    if (!run.error.empty()) {
      out += fmt::format("{:<18} error: {}\n", name, run.error);
      continue;
    }
    const double sent = run.seconds > 0 ? static_cast<double>(run.sent) / run.seconds / 1e6 : 0;
    const double received = run.seconds > 0 ? static_cast<double>(run.received) / run.seconds / 1e6 : 0;
    const std::string factor = run.shared_pool && copy_path != nullptr && copy_path->error.empty()
                                   ? format_factor(run.forwarded_mpps(), copy_path->forwarded_mpps())
                                   : "";
    out += fmt::format("{:<18} {:>10.3f} {:>10.3f} {:>10.3f} {:>16.3f} {:>14}  {}\n", name, run.forwarded_mpps(), sent,
                       received, run.copies_per_forwarded_frame(), run.foreign_frees, factor);
  }
  if (const auto ratio = report.shared_over_copy()) {
    out += fmt::format("shared pool / pool per port, forwarded Mpps: {:.3f}\n", *ratio);
  }
  for (const FwdRun& run : report.runs) {
    if (run.error.empty()) out += fmt::format("  {}: {}\n", run.shared_pool ? "shared" : "per port", run.mode);
  }
  return out;
}

nlohmann::json fwd_report_to_json(const FwdBenchReport& report) {
  nlohmann::json runs = nlohmann::json::array();
  for (const FwdRun& run : report.runs) {
    nlohmann::json entry = {{"pools", run.shared_pool ? "shared" : "per_port"}};
    if (!run.error.empty()) {
      entry["error"] = run.error;
    } else {
      entry.update({{"mode", run.mode},
                    {"seconds", run.seconds},
                    {"sent", run.sent},
                    {"forwarded", run.forwarded},
                    {"received", run.received},
                    {"forwarded_mpps", run.forwarded_mpps()},
                    {"forwarded_total", run.forwarded_total},
                    {"copies", run.copies},
                    {"copies_per_forwarded_frame", run.copies_per_forwarded_frame()},
                    {"foreign_frees", run.foreign_frees},
                    {"forwarder_cpu_time_ns", run.forwarder_worker.cpu_time_ns},
                    {"forwarder_involuntary_switches", run.forwarder_worker.involuntary_switches}});
    }
    runs.push_back(std::move(entry));
  }
  nlohmann::json environment = nlohmann::json::object();
  for (const auto& [key, value] : report.environment) environment[key] = value;
  nlohmann::json out = {{"tool", "aether bench fwd"},
                        {"backend", report.config.kind},
                        {"frame_size", report.config.frame_size},
                        {"forwarder_cpu", report.config.forwarder_cpu},
                        {"traffic_cpu", report.config.traffic_cpu},
                        {"environment", environment},
                        {"runs", runs},
                        {"interrupted", report.interrupted}};
  if (const auto ratio = report.shared_over_copy()) out["shared_over_per_port_mpps"] = *ratio;
  return out;
}

}  // namespace aether::measure
