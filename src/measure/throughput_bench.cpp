#include "aether/measure/throughput_bench.hpp"

#include <arpa/inet.h>
#include <unistd.h>

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
                         std::optional<int> fifo_priority, const std::atomic<bool>& stop) {
  ThroughputResult out;
  out.backend = backend;
  out.frame_size = frame_size;
  out.fifo_priority = fifo_priority;
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
      dataplane::Worker::start({config.receiver_cpu, fifo_priority, "aether-sink"}, {&sink}, &stop);
  if (!receiver_worker) {
    out.error = receiver_worker.error().describe();
    return out;
  }
  auto sender_worker =
      dataplane::Worker::start({config.sender_cpu, fifo_priority, "aether-send"}, {&sender}, &stop);
  if (!sender_worker) {
    out.error = sender_worker.error().describe();
    return out;
  }
  // Count only the steady window: skip the first 10% for warm-up.
  const pid_t self[] = {::getpid()};
  CpuSnapshot cpu_before;
  std::uint64_t sent0 = 0, refused0 = 0, received0 = 0, bytes0 = 0;
  // This thread is on one of the two CPUs too: it wakes 10 times a second
  // (for Ctrl-C), and the CPU accounting below shows what that costs.
  out.seconds = measured_window(config.seconds, stop, [&] {
    cpu_before = take_cpu_snapshot(self);
    sent0 = sender.sent();
    refused0 = sender.refused();
    received0 = sink.received();
    bytes0 = sink.received_bytes();
  });
  out.sent = sender.sent() - sent0;
  out.refused = sender.refused() - refused0;
  out.received = sink.received() - received0;
  out.received_bytes = sink.received_bytes() - bytes0;
  const unsigned cpus[] = {config.sender_cpu, config.receiver_cpu};
  out.cpu = account_cpu_time(cpu_before, take_cpu_snapshot(self), cpus);
  sender.pause();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let what is in flight land
  out.sender_worker = (*sender_worker)->join();
  out.receiver_worker = (*receiver_worker)->join();
  out.sender_port = link->generator().port->stats();
  out.receiver_port = link->responder().port->stats();
  return out;
}

bool several_runs(const ThroughputBenchConfig& config) { return config.repeat > 1 || config.both_schedules; }

// The row's name: the path, and with several runs its round and scheduling.
std::string run_label(const ThroughputResult& r, const ThroughputBenchConfig& config) {
  if (!several_runs(config)) return r.backend.name;
  return fmt::format("{} #{} {}", r.backend.name, r.round, schedule_name(r.fifo_priority));
}

// The share of the window the slower of a run's busy-polling workers got
// on its CPU (threads named `a` and `b`, or every thread whose name starts
// with `prefix`): 1.0 means nothing else ran there.
double slower_worker_share(const CpuAccounting& cpu, std::string_view prefix) {
  double share = -1;
  for (const auto& thread : cpu.threads) {
    if (thread.name.rfind(prefix, 0) != 0 || cpu.seconds <= 0) continue;
    const double mine = static_cast<double>(thread.run_ns) / (cpu.seconds * 1e9);
    share = share < 0 ? mine : std::min(share, mine);
  }
  return std::max(share, 0.0);
}

// CPU time of the watched processes' other threads (not busy-polling
// workers), as a share of one CPU: what of the benchmark itself competes.
double helper_threads_share(const CpuAccounting& cpu, std::string_view worker_prefix) {
  if (cpu.seconds <= 0) return 0;
  double run_ns = 0;
  for (const auto& thread : cpu.threads) {
    if (thread.name.rfind(worker_prefix, 0) != 0) run_ns += static_cast<double>(thread.run_ns);
  }
  return run_ns / (cpu.seconds * 1e9);
}

double other_tasks_share(const CpuAccounting& cpu) {
  double share = 0;
  for (const auto& c : cpu.cpus) share = std::max(share, c.others + c.steal);
  return share;
}

// Mpps per CPU second of the slower worker (0 when it did not run).
double mpps_per_worker_cpu(double mpps, const CpuAccounting& cpu, std::string_view prefix) {
  const double share = slower_worker_share(cpu, prefix);
  return share > 0 ? mpps / share : 0;
}

constexpr std::string_view aether_worker_prefix = "aether-s";  // aether-send, aether-sink
constexpr std::string_view dpdk_worker_prefix = "rte-worker";   // EAL's lcore threads (rte-worker-N)

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
  // SCHED_OTHER and SCHED_FIFO alternate, and so do Aether and DPDK: in odd
  // rounds the other way round, so that neither always runs first after
  // the machine changed.
  std::vector<std::optional<int>> schedules{config.fifo_priority};
  if (config.both_schedules) schedules = {std::nullopt, config.fifo_priority};
  for (unsigned round = 1; round <= std::max(1u, config.repeat); ++round) {
    const bool reversed = round % 2 == 0;
    for (std::size_t s = 0; s < schedules.size(); ++s) {
      const std::optional<int> fifo = schedules[reversed ? schedules.size() - 1 - s : s];
      const std::string sched = fifo ? fmt::format("SCHED_FIFO {}", *fifo) : "SCHED_OTHER";
      for (const auto& backend : config.backends) {
        for (const std::size_t size : config.frame_sizes) {
          if (stop.load(std::memory_order_relaxed)) break;
          const bool with_dpdk = config.vs_dpdk && backend.kind == "memif";
          auto run_dpdk = [&](ThroughputResult& result) {
            if (stop.load(std::memory_order_relaxed)) return;
            if (progress) progress(fmt::format("  round {}, {}: DPDK testpmd txonly -> rxonly over memif, {}-byte frames",
                                               round, sched, size));
            auto dpdk = measure_testpmd_memif_throughput(size, config.seconds, config.sender_cpu, config.receiver_cpu, fifo);
            if (dpdk) {
              result.dpdk_mpps = dpdk->mpps;
              result.dpdk_cpu = std::move(dpdk->cpu);
            } else {
              result.dpdk_error = dpdk.error().describe();
            }
          };
          ThroughputResult dpdk_first;
          if (with_dpdk && reversed) run_dpdk(dpdk_first);
          if (progress) progress(fmt::format("  round {}, {}: {}, {}-byte frames for {:.1f} s", round, sched, backend.name, size,
                                             config.seconds));
          ThroughputResult result = run_one(backend, size, config, fifo, stop);
          result.round = round;
          if (with_dpdk && reversed) {
            result.dpdk_mpps = dpdk_first.dpdk_mpps;
            result.dpdk_cpu = std::move(dpdk_first.dpdk_cpu);
            result.dpdk_error = std::move(dpdk_first.dpdk_error);
          } else if (with_dpdk) {
            run_dpdk(result);
          }
          report.results.push_back(std::move(result));
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
  for (const auto& r : report.results) width = std::max(width, run_label(r, report.config).size());
  out += fmt::format("{:<{}} {:>6} {:>10} {:>10} {:>9} {:>10} {:>12} {:>10}  {}\n", "path", width, "size", "sent Mpps", "recv Mpps",
                     "recv Gb/s", "lost", "back-press.", "recv/sent", "mode");
  for (const auto& r : report.results) {
    if (!r.error.empty()) {
      out += fmt::format("{:<{}} {:>6} not measured: {}\n", run_label(r, report.config), width, r.frame_size, r.error);
      continue;
    }
    const std::uint64_t lost = r.sent > r.received ? r.sent - r.received : 0;
    out += fmt::format("{:<{}} {:>6} {:>10.3f} {:>10.3f} {:>9.3f} {:>10} {:>12} {:>9.1f}%  {}\n", run_label(r, report.config), width, r.frame_size,
                       r.sent_mpps(), r.received_mpps(), r.received_gbps(), lost, r.refused,
                       r.sent > 0 ? 100.0 * static_cast<double>(r.received) / static_cast<double>(r.sent) : 0.0, r.mode);
  }
  out += "\nlost: sent minus received in the window (kernel or ring drops; see the JSON for per-port counters);\n"
         "back-press.: offers the sender's tx_burst did not take (those frames stay written and go first next burst);\n"
         "Gb/s counts frame bytes without FCS. Per frame the sender writes the 42 header bytes into a pool buffer and\n"
         "sets the length, as testpmd's txonly does; the payload is not copied.\n";
  if (!several_runs(report.config)) {
    out += "\nWho ran on the two CPUs in the measured window (every thread of the run's processes; \"other tasks\" is the\n"
           "CPU's busy time none of them accounts for: other processes, kernel threads, interrupts):\n";
    for (const auto& r : report.results) {
      if (!r.error.empty()) continue;
      out += fmt::format("  {} {} B, Aether:\n{}", r.backend.name, r.frame_size, format_cpu_accounting(r.cpu, "    "));
      if (r.dpdk_cpu) out += fmt::format("  {} {} B, DPDK:\n{}", r.backend.name, r.frame_size, format_cpu_accounting(*r.dpdk_cpu, "    "));
    }
  }
  if (report.config.vs_dpdk) {
    out += fmt::format("\nmemif against DPDK 22.11 (testpmd txonly -> testpmd rxonly over memif), same CPUs {} and {}:\n",
                       report.config.sender_cpu, report.config.receiver_cpu);
    out += "(both write headers only; Aether's memif client lends its pool (zero copy), testpmd's copies each frame\n"
           " into the shared buffers: DPDK 22.11's net_memif zero-copy=yes is not used)\n";
    out += "(Mpps/CPU: Mpps over the share of its CPU the slower worker got: the rate per CPU second of polling,\n"
           " which the scheduler's share for other tasks does not change)\n";
    out += fmt::format("{:<{}} {:>6} {:>12} {:>12} {:>20}  {:>11} {:>11} {:>20}\n", "run", width, "size", "Aether Mpps", "DPDK Mpps",
                       "Aether against DPDK", "Aether/CPU", "DPDK/CPU", "per CPU second");
    for (const auto& r : report.results) {
      if (r.backend.kind != "memif" || !r.error.empty()) continue;
      if (!r.dpdk_mpps) {
        out += fmt::format("{:<{}} {:>6} {:>12.3f} not measured: {}\n", run_label(r, report.config), width, r.frame_size,
                           r.received_mpps(), r.dpdk_error);
        continue;
      }
      const double aether_per_cpu = mpps_per_worker_cpu(r.received_mpps(), r.cpu, aether_worker_prefix);
      const double dpdk_per_cpu = r.dpdk_cpu ? mpps_per_worker_cpu(*r.dpdk_mpps, *r.dpdk_cpu, dpdk_worker_prefix) : 0;
      out += fmt::format("{:<{}} {:>6} {:>12.3f} {:>12.3f} {:>20}  {:>11.3f} {:>11.3f} {:>20}\n", run_label(r, report.config), width,
                         r.frame_size, r.received_mpps(), *r.dpdk_mpps, format_factor(r.received_mpps(), *r.dpdk_mpps),
                         aether_per_cpu, dpdk_per_cpu, format_factor(aether_per_cpu, dpdk_per_cpu));
    }
    out += format_throughput_summary(report);
  }
  if (report.interrupted) out += "interrupted: figures cover what was measured before Ctrl-C\n";
  return out;
}

namespace {

// One path, schedule and size over every round.
struct SummaryRow {
  std::string path;
  std::optional<int> fifo_priority;
  std::size_t frame_size = 0;
  Spread aether_mpps, dpdk_mpps, ratio, aether_per_cpu, dpdk_per_cpu, ratio_per_cpu, aether_worker_cpu, dpdk_worker_cpu,
      aether_helpers, others;
};

std::vector<SummaryRow> summarize(const ThroughputBenchReport& report) {
  std::vector<SummaryRow> rows;
  auto same = [](const SummaryRow& row, const ThroughputResult& r) {
    return row.path == r.backend.name && row.fifo_priority == r.fifo_priority && row.frame_size == r.frame_size;
  };
  for (const auto& r : report.results) {
    if (r.backend.kind != "memif") continue;
    if (std::none_of(rows.begin(), rows.end(), [&](const SummaryRow& row) { return same(row, r); })) {
      SummaryRow row;
      row.path = r.backend.name;
      row.fifo_priority = r.fifo_priority;
      row.frame_size = r.frame_size;
      rows.push_back(std::move(row));
    }
  }
  for (auto& row : rows) {
    std::vector<double> aether, dpdk, ratio, aether_per_cpu, dpdk_per_cpu, ratio_per_cpu, aether_share, dpdk_share, helpers,
        others;
    for (const auto& r : report.results) {
      if (!same(row, r) || !r.error.empty()) continue;
      aether.push_back(r.received_mpps());
      aether_share.push_back(slower_worker_share(r.cpu, aether_worker_prefix));
      aether_per_cpu.push_back(mpps_per_worker_cpu(r.received_mpps(), r.cpu, aether_worker_prefix));
      helpers.push_back(helper_threads_share(r.cpu, aether_worker_prefix));
      others.push_back(other_tasks_share(r.cpu));
      if (r.dpdk_mpps) {
        dpdk.push_back(*r.dpdk_mpps);
        if (*r.dpdk_mpps > 0) ratio.push_back(r.received_mpps() / *r.dpdk_mpps);
      }
      if (r.dpdk_mpps && r.dpdk_cpu) {
        dpdk_share.push_back(slower_worker_share(*r.dpdk_cpu, dpdk_worker_prefix));
        dpdk_per_cpu.push_back(mpps_per_worker_cpu(*r.dpdk_mpps, *r.dpdk_cpu, dpdk_worker_prefix));
        if (dpdk_per_cpu.back() > 0) ratio_per_cpu.push_back(aether_per_cpu.back() / dpdk_per_cpu.back());
      }
    }
    row.aether_mpps = spread_of(aether);
    row.dpdk_mpps = spread_of(dpdk);
    row.ratio = spread_of(ratio);
    row.aether_per_cpu = spread_of(aether_per_cpu);
    row.dpdk_per_cpu = spread_of(dpdk_per_cpu);
    row.ratio_per_cpu = spread_of(ratio_per_cpu);
    row.aether_worker_cpu = spread_of(aether_share);
    row.dpdk_worker_cpu = spread_of(dpdk_share);
    row.aether_helpers = spread_of(helpers);
    row.others = spread_of(others);
  }
  return rows;
}

}  // namespace

std::string format_throughput_summary(const ThroughputBenchReport& report) {
  if (!report.config.vs_dpdk || !several_runs(report.config)) return "";
  std::string out = fmt::format(
      "\nmemif against DPDK, median [min..max] of the runs (same CPUs; each ratio is of one round's Aether and DPDK runs,\n"
      "back to back). worker CPU: the share of the window the slower of the two busy-polling workers got on its CPU;\n"
      "/CPU: Mpps over that share; helpers: CPU time of Aether's other threads (main, memif control), in CPUs;\n"
      "others: the larger of the two CPUs' busy time no thread of the run accounts for, plus steal (Aether's runs).\n");
  constexpr auto row_format = "{:<11} {:<7} {:>5} {:>4}  {:<22} {:<22} {:<18} {:<22} {:<22} {:<18} {:<18} {:<18} {:<21} {:<18}\n";
  out += fmt::format(row_format, "path", "sched", "size", "runs", "Aether Mpps", "DPDK Mpps", "Aether / DPDK", "Aether Mpps/CPU",
                     "DPDK Mpps/CPU", "per CPU: A / D", "Aether worker CPU", "DPDK worker CPU", "Aether helpers", "others");
  for (const auto& row : summarize(report)) {
    out += fmt::format(row_format, row.path, schedule_name(row.fifo_priority), row.frame_size, row.aether_mpps.runs,
                       format_spread(row.aether_mpps, 3), format_spread(row.dpdk_mpps, 3), format_spread(row.ratio, 2),
                       format_spread(row.aether_per_cpu, 3), format_spread(row.dpdk_per_cpu, 3),
                       format_spread(row.ratio_per_cpu, 2), format_spread(row.aether_worker_cpu, 2),
                       format_spread(row.dpdk_worker_cpu, 2), format_spread(row.aether_helpers, 4),
                       format_spread(row.others, 2));
  }
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
    nlohmann::json entry = {{"path", r.backend.name}, {"frame_size", r.frame_size}, {"round", r.round},
                            {"sched", r.fifo_priority ? fmt::format("SCHED_FIFO {}", *r.fifo_priority) : "SCHED_OTHER"}};
    if (!r.error.empty()) {
      entry["error"] = r.error;
    } else {
      entry.update({{"mode", r.mode}, {"seconds", r.seconds}, {"sent", r.sent}, {"refused", r.refused},
                    {"received", r.received}, {"received_bytes", r.received_bytes}, {"sent_mpps", r.sent_mpps()},
                    {"received_mpps", r.received_mpps()}, {"received_gbps", r.received_gbps()},
                    {"sender_port", stats_json(r.sender_port)}, {"receiver_port", stats_json(r.receiver_port)},
                    {"sender_worker", worker_json(r.sender_worker)}, {"receiver_worker", worker_json(r.receiver_worker)}});
      entry["cpu_accounting"] = cpu_accounting_to_json(r.cpu);
      if (r.dpdk_mpps) entry["dpdk_testpmd_mpps"] = *r.dpdk_mpps;
      if (r.dpdk_cpu) entry["dpdk_cpu_accounting"] = cpu_accounting_to_json(*r.dpdk_cpu);
      if (!r.dpdk_error.empty()) entry["dpdk_testpmd_error"] = r.dpdk_error;
    }
    results.push_back(entry);
  }
  nlohmann::json environment = nlohmann::json::object();
  for (const auto& [key, value] : report.environment) environment[key] = value;
  nlohmann::json out = {{"tool", "aether bench throughput"},
                        {"config", {{"seconds", report.config.seconds}, {"sender_cpu", report.config.sender_cpu},
                                    {"receiver_cpu", report.config.receiver_cpu}, {"repeat", report.config.repeat},
                                    {"both_schedules", report.config.both_schedules}}},
                        {"environment", environment},
                        {"results", results},
                        {"interrupted", report.interrupted}};
  if (report.config.vs_dpdk && several_runs(report.config)) {
    nlohmann::json summary = nlohmann::json::array();
    for (const auto& row : summarize(report)) {
      summary.push_back({{"path", row.path}, {"sched", schedule_name(row.fifo_priority)}, {"frame_size", row.frame_size},
                         {"aether_mpps", spread_to_json(row.aether_mpps)}, {"dpdk_mpps", spread_to_json(row.dpdk_mpps)},
                         {"aether_over_dpdk", spread_to_json(row.ratio)},
                         {"aether_mpps_per_worker_cpu", spread_to_json(row.aether_per_cpu)},
                         {"dpdk_mpps_per_worker_cpu", spread_to_json(row.dpdk_per_cpu)},
                         {"aether_over_dpdk_per_worker_cpu", spread_to_json(row.ratio_per_cpu)},
                         {"aether_slower_worker_cpu_share", spread_to_json(row.aether_worker_cpu)},
                         {"dpdk_slower_worker_cpu_share", spread_to_json(row.dpdk_worker_cpu)},
                         {"aether_helper_threads_cpus", spread_to_json(row.aether_helpers)},
                         {"other_tasks_share", spread_to_json(row.others)}});
    }
    out["summary"] = summary;
  }
  if (report.floor) out["ring_floor"] = {{"round_trip_ns", report.floor->round_trip_ns.to_json()}};
  return out;
}

}  // namespace aether::measure
