#include "aether/measure/throughput_bench.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/host_environment.hpp"
#include "aether/dataplane/traffic.hpp"
#include "aether/measure/comparison.hpp"
#include "aether/measure/port_on_veth.hpp"
#include "aether/measure/testpmd_process.hpp"
#include "aether/net/frame.hpp"
#include "aether/stats/duration_format.hpp"
#include "measured_window.hpp"

namespace aether::measure {
namespace {

constexpr std::uint16_t traffic_port = 9001;

ThroughputResult run_one(const BenchBackend& backend, std::size_t frame_size, const ThroughputBenchConfig& config,
                         const std::atomic<bool>& stop) {
  ThroughputResult out;
  out.backend = backend;
  out.frame_size = frame_size;
  auto link = PortsOnVeth::open_for(backend, traffic_port);
  if (!link) {
    out.error = link.error().describe();
    return out;
  }
  out.mode = link->generator().port->info().mode;
  std::vector<std::byte> frame(frame_size);
  const auto& a = link->end_a();
  const auto& b = link->end_b();
  if (net::write_udp_headers(frame, net::UdpEndpoint{a.mac, a.ip_be, htons(traffic_port)},
                             net::UdpEndpoint{b.mac, b.ip_be, htons(traffic_port)},
                             frame_size - net::udp_frame_header_size) != frame_size) {
    out.error = fmt::format("cannot build a {}-byte frame", frame_size);
    return out;
  }
  dataplane::TrafficSink sink(link->responder().port->queue(0), *link->responder().pool);
  dataplane::TrafficSender sender(link->generator().port->queue(0), *link->generator().pool, std::move(frame));
  auto receiver_worker =
      dataplane::Worker::start({config.receiver_cpu, config.fifo_priority, "aether-sink"}, {&sink}, &stop);
  if (!receiver_worker) {
    out.error = receiver_worker.error().describe();
    return out;
  }
  auto sender_worker =
      dataplane::Worker::start({config.sender_cpu, config.fifo_priority, "aether-send"}, {&sender}, &stop);
  if (!sender_worker) {
    out.error = sender_worker.error().describe();
    return out;
  }
  // Count only the steady window: skip the first 10% for warm-up.
  std::uint64_t sent0 = 0, refused0 = 0, received0 = 0, bytes0 = 0;
  out.seconds = measured_window(config.seconds, stop, [&] {
    sent0 = sender.sent();
    refused0 = sender.refused();
    received0 = sink.received();
    bytes0 = sink.received_bytes();
  });
  out.sent = sender.sent() - sent0;
  out.refused = sender.refused() - refused0;
  out.received = sink.received() - received0;
  out.received_bytes = sink.received_bytes() - bytes0;
  sender.pause();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let what is in flight land
  out.sender_worker = (*sender_worker)->join();
  out.receiver_worker = (*receiver_worker)->join();
  out.sender_port = link->generator().port->stats();
  out.receiver_port = link->responder().port->stats();
  return out;
}

}  // namespace

ThroughputBenchReport run_throughput_bench(const ThroughputBenchConfig& config, const std::atomic<bool>& stop,
                                           const ProgressFunction& progress) {
  ThroughputBenchReport report;
  report.config = config;
  report.environment = describe_host_environment();
  if (config.ring_messages > 0) {
    RingRoundTripConfig ring;
    ring.initiator_cpu = config.sender_cpu;
    ring.responder_cpu = config.receiver_cpu;
    ring.messages = config.ring_messages;
    if (auto floor = measure_ring_round_trip(ring)) report.floor = std::move(*floor);
  }
  for (const auto& backend : config.backends) {
    for (const std::size_t size : config.frame_sizes) {
      if (stop.load(std::memory_order_relaxed)) break;
      if (progress) progress(fmt::format("  {}: {}-byte frames for {:.1f} s", backend.name, size, config.seconds));
      report.results.push_back(run_one(backend, size, config, stop));
      if (config.vs_dpdk && backend.kind == "memif" && !stop.load(std::memory_order_relaxed)) {
        if (progress) progress(fmt::format("  DPDK testpmd txonly -> rxonly over memif: {}-byte frames", size));
        auto dpdk = measure_testpmd_memif_throughput(size, config.seconds, config.sender_cpu, config.receiver_cpu,
                                                     config.fifo_priority);
        if (dpdk) {
          report.results.back().dpdk_mpps = dpdk->mpps;
        } else {
          report.results.back().dpdk_error = dpdk.error().describe();
        }
      }
    }
  }
  report.interrupted = stop.load(std::memory_order_relaxed);
  return report;
}

std::string format_throughput_table(const ThroughputBenchReport& report) {
  std::string out = fmt::format("aether bench throughput: sender CPU {}, receiver CPU {}, {:.1f} s per run\n",
                                report.config.sender_cpu, report.config.receiver_cpu, report.config.seconds);
  for (const auto& [key, value] : report.environment) out += fmt::format("  {}: {}\n", key, value);
  out += "\n";
  if (report.floor) {
    out += fmt::format("ring floor: SPSC ring round trip p50 {}, p99.9 {} between the two cores\n",
                       format_duration_ns(report.floor->round_trip_ns.percentile(50)),
                       format_duration_ns(report.floor->round_trip_ns.percentile(99.9)));
  }
  // Wide enough for a --ports label (the two specs).
  std::size_t width = 10;
  for (const auto& r : report.results) width = std::max(width, r.backend.name.size());
  out += fmt::format("{:<{}} {:>6} {:>10} {:>10} {:>9} {:>10} {:>12} {:>10}  {}\n", "path", width, "size", "sent Mpps", "recv Mpps",
                     "recv Gb/s", "lost", "back-press.", "recv/sent", "mode");
  for (const auto& r : report.results) {
    if (!r.error.empty()) {
      out += fmt::format("{:<{}} {:>6} not measured: {}\n", r.backend.name, width, r.frame_size, r.error);
      continue;
    }
    const std::uint64_t lost = r.sent > r.received ? r.sent - r.received : 0;
    out += fmt::format("{:<{}} {:>6} {:>10.3f} {:>10.3f} {:>9.3f} {:>10} {:>12} {:>9.1f}%  {}\n", r.backend.name, width, r.frame_size,
                       r.sent_mpps(), r.received_mpps(), r.received_gbps(), lost, r.refused,
                       r.sent > 0 ? 100.0 * static_cast<double>(r.received) / static_cast<double>(r.sent) : 0.0, r.mode);
  }
  out += "\nlost: sent minus received in the window (kernel or ring drops; see the JSON for per-port counters);\n"
         "back-press.: offers the sender's tx_burst did not take (those frames stay written and go first next burst);\n"
         "Gb/s counts frame bytes without FCS. Per frame the sender writes the 42 header bytes into a pool buffer and\n"
         "sets the length, as testpmd's txonly does; the payload is not copied.\n";
  for (const auto& r : report.results) {
    if (!r.error.empty()) continue;
    for (const auto& [who, stats] : {std::pair{"sender", &r.sender_worker}, std::pair{"receiver", &r.receiver_worker}}) {
      if (stats->involuntary_switches == 0) continue;
      out += fmt::format("{} {} B: the {} worker was preempted {} times (something else ran on its CPU)\n", r.backend.name,
                         r.frame_size, who, stats->involuntary_switches);
    }
  }
  if (report.config.vs_dpdk) {
    out += fmt::format("\nmemif against DPDK 22.11 (testpmd txonly -> testpmd rxonly over memif), same CPUs {} and {}:\n",
                       report.config.sender_cpu, report.config.receiver_cpu);
    out += "(both write headers only; Aether's memif client lends its pool (zero copy), testpmd's copies each frame\n"
           " into the shared buffers: DPDK 22.11's net_memif zero-copy=yes is not used)\n";
    out += fmt::format("{:>6} {:>12} {:>12}  {}\n", "size", "Aether Mpps", "DPDK Mpps", "Aether against DPDK");
    for (const auto& r : report.results) {
      if (r.backend.kind != "memif" || !r.error.empty()) continue;
      if (!r.dpdk_mpps) {
        out += fmt::format("{:>6} {:>12.3f} not measured: {}\n", r.frame_size, r.received_mpps(), r.dpdk_error);
        continue;
      }
      out += fmt::format("{:>6} {:>12.3f} {:>12.3f}  {}\n", r.frame_size, r.received_mpps(), *r.dpdk_mpps,
                         format_factor(r.received_mpps(), *r.dpdk_mpps));
    }
  }
  if (report.interrupted) out += "interrupted: figures cover what was measured before Ctrl-C\n";
  return out;
}

nlohmann::json throughput_report_to_json(const ThroughputBenchReport& report) {
  nlohmann::json results = nlohmann::json::array();
  auto stats_json = [](const net::QueueStats& s) {
    return nlohmann::json{{"rx_packets", s.rx_packets}, {"tx_packets", s.tx_packets}, {"rx_drop_no_buffer", s.rx_drop_no_buffer},
                          {"rx_drop_kernel", s.rx_drop_kernel}, {"rx_drop_bad_frame", s.rx_drop_bad_frame},
                          {"tx_drop_error", s.tx_drop_error}, {"tx_drop_bad_frame", s.tx_drop_bad_frame}};
  };
  auto worker_json = [](const dataplane::WorkerStats& w) {
    return nlohmann::json{{"cpu_time_ns", w.cpu_time_ns}, {"loops", w.loops}, {"busy_loops", w.busy_loops},
                          {"involuntary_switches", w.involuntary_switches}, {"voluntary_switches", w.voluntary_switches}};
  };
  for (const auto& r : report.results) {
    nlohmann::json entry = {{"path", r.backend.name}, {"frame_size", r.frame_size}};
    if (!r.error.empty()) {
      entry["error"] = r.error;
    } else {
      entry.update({{"mode", r.mode}, {"seconds", r.seconds}, {"sent", r.sent}, {"refused", r.refused},
                    {"received", r.received}, {"received_bytes", r.received_bytes}, {"sent_mpps", r.sent_mpps()},
                    {"received_mpps", r.received_mpps()}, {"received_gbps", r.received_gbps()},
                    {"sender_port", stats_json(r.sender_port)}, {"receiver_port", stats_json(r.receiver_port)},
                    {"sender_worker", worker_json(r.sender_worker)}, {"receiver_worker", worker_json(r.receiver_worker)}});
      if (r.dpdk_mpps) entry["dpdk_testpmd_mpps"] = *r.dpdk_mpps;
      if (!r.dpdk_error.empty()) entry["dpdk_testpmd_error"] = r.dpdk_error;
    }
    results.push_back(entry);
  }
  nlohmann::json environment = nlohmann::json::object();
  for (const auto& [key, value] : report.environment) environment[key] = value;
  nlohmann::json out = {{"tool", "aether bench throughput"},
                        {"config", {{"seconds", report.config.seconds}, {"sender_cpu", report.config.sender_cpu},
                                    {"receiver_cpu", report.config.receiver_cpu}}},
                        {"environment", environment},
                        {"results", results},
                        {"interrupted", report.interrupted}};
  if (report.floor) out["ring_floor"] = {{"round_trip_ns", report.floor->round_trip_ns.to_json()}};
  return out;
}

}  // namespace aether::measure
