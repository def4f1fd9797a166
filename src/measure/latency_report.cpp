// `aether bench latency` outputs: the side-by-side table and JSON.
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/stats/duration_format.hpp"
#include "aether/measure/latency_bench.hpp"

namespace aether::measure {
namespace {

std::string ratio(double value, double baseline) {
  if (baseline <= 0 || value <= 0) return "-";
  const double r = value / baseline;
  return r < 0.1 ? fmt::format("{:.3f}x", r) : fmt::format("{:.2f}x", r);
}

const BackendLatency* find_baseline(const LatencyBenchReport& report) {
  for (const auto& backend : report.backends) {
    if (backend.backend.name == "udp" && backend.error.empty() && backend.generator.round_trip_ns.count() > 0) return &backend;
  }
  return nullptr;
}

}  // namespace

std::string format_latency_table(const LatencyBenchReport& report) {
  const auto& config = report.config;
  std::string out;
  out += fmt::format("aether bench latency: {}-byte UDP probes, {}, generator CPU {}, responder CPU {}, clock {}{}\n",
                     config.frame_size,
                     config.rate_per_second > 0
                         ? fmt::format("{:.0f}/s for {:.1f} s per path", config.rate_per_second, config.seconds)
                         : fmt::format("closed loop, {} probes per path", config.closed_loop_probes),
                     config.generator_cpu, config.responder_cpu, report.clock,
                     config.fifo_priority ? fmt::format(", SCHED_FIFO {}", *config.fifo_priority) : std::string());
  for (const auto& [key, value] : report.environment) out += fmt::format("  {}: {}\n", key, value);
  out += "round trip, measured from when each probe was due (no coordinated omission):\n\n";
  // Wide enough for a --ports label (the two specs).
  std::size_t width = 11;
  for (const auto& backend : report.backends) width = std::max(width, backend.backend.name.size());
  out += fmt::format("{:<{}} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>6} {:>6} {:>8} {:>10}\n", "path", width, "p50", "p99",
                     "p99.9", "p99.99", "max", "lost", "replies", "CPU%", "gen%", "p50/udp", "p99.9/udp");
  const BackendLatency* baseline = find_baseline(report);
  const double base_p50 = baseline ? static_cast<double>(baseline->generator.round_trip_ns.percentile(50)) : 0;
  const double base_p999 = baseline ? static_cast<double>(baseline->generator.round_trip_ns.percentile(99.9)) : 0;
  auto row = [&](const std::string& name, const LatencyHistogram& histogram, const std::string& lost,
                 const std::string& replies, const std::string& cpu, const std::string& generator_cpu) {
    auto pct = [&](double p) { return histogram.count() == 0 ? std::string("-") : format_duration_ns(histogram.percentile(p)); };
    out += fmt::format("{:<{}} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>6} {:>6} {:>8} {:>10}\n", name, width, pct(50), pct(99),
                       pct(99.9), pct(99.99), histogram.count() == 0 ? "-" : format_duration_ns(histogram.max()), lost,
                       replies, cpu, generator_cpu, ratio(static_cast<double>(histogram.percentile(50)), base_p50),
                       ratio(static_cast<double>(histogram.percentile(99.9)), base_p999));
  };
  if (report.floor) {
    row("ring floor", report.floor->round_trip_ns, "0", std::to_string(report.floor->messages), "100", "100");
  } else if (!report.floor_error.empty()) {
    out += fmt::format("{:<{}} not measured: {}\n", "ring floor", width, report.floor_error);
  }
  for (const auto& backend : report.backends) {
    if (!backend.error.empty()) {
      out += fmt::format("{:<{}} not measured: {}\n", backend.backend.name, width, backend.error);
      continue;
    }
    const auto& g = backend.generator;
    row(backend.backend.name, g.round_trip_ns, std::to_string(g.lost), std::to_string(g.received),
        fmt::format("{:.0f}", backend.responder_cpu_percent), fmt::format("{:.0f}", backend.generator_cpu_percent));
  }
  out += "\nCPU%: the responder's CPU time over the run; gen%: the generator's. Ratios are against the udp row.\n";
  for (const auto& backend : report.backends) {
    if (!backend.error.empty()) continue;
    out += fmt::format("{}: {} (responder {})\n", backend.backend.name, backend.mode, backend.responder_spec);
    for (const auto& note : backend.notes) out += fmt::format("  note: {}\n", note);
    const auto& g = backend.generator;
    if (g.unexpected > 0 || backend.responder_dropped > 0) {
      out += fmt::format("  {} unexpected frames at the generator, {} dropped by the responder\n", g.unexpected,
                         backend.responder_dropped);
    }
    if (config.rate_per_second > 0 && g.late_send_ns_max > 1'000'000) {
      out += fmt::format("  the generator fell behind its schedule by up to {}\n", format_duration_ns(g.late_send_ns_max));
    }
  }
  if (report.interrupted) out += "interrupted: figures cover what was measured before Ctrl-C\n";
  return out;
}

nlohmann::json latency_report_to_json(const LatencyBenchReport& report) {
  const auto& config = report.config;
  nlohmann::json paths = nlohmann::json::array();
  for (const auto& backend : report.backends) {
    nlohmann::json path = {{"name", backend.backend.name}, {"kind", backend.backend.kind}};
    if (!backend.error.empty()) {
      path["error"] = backend.error;
      paths.push_back(path);
      continue;
    }
    const auto& g = backend.generator;
    auto stats_json = [](const net::QueueStats& s) {
      return nlohmann::json{{"rx_packets", s.rx_packets}, {"tx_packets", s.tx_packets}, {"rx_drops", s.rx_drops()},
                            {"tx_drops", s.tx_drops()}};
    };
    path.update({
        {"generator_spec", backend.generator_spec},
        {"responder_spec", backend.responder_spec},
        {"mode", backend.mode},
        {"notes", backend.notes},
        {"sent", g.sent},
        {"received", g.received},
        {"lost", g.lost},
        {"unexpected", g.unexpected},
        {"late_send_ns_max", g.late_send_ns_max},
        {"elapsed_ns", g.elapsed_ns},
        {"responder_received", backend.responder_received},
        {"responder_sent", backend.responder_sent},
        {"responder_dropped", backend.responder_dropped},
        {"responder_cpu_percent", backend.responder_cpu_percent},
        {"generator_cpu_percent", backend.generator_cpu_percent},
        {"generator_port", stats_json(backend.generator_port)},
        {"responder_port", stats_json(backend.responder_port)},
        {"round_trip_ns", g.round_trip_ns.to_json()},
    });
    paths.push_back(path);
  }
  nlohmann::json environment = nlohmann::json::object();
  for (const auto& [key, value] : report.environment) environment[key] = value;
  nlohmann::json out = {
      {"tool", "aether bench latency"},
      {"config",
       {{"rate_per_second", config.rate_per_second},
        {"seconds", config.seconds},
        {"closed_loop_probes", config.closed_loop_probes},
        {"warmup_probes", config.warmup_probes},
        {"frame_size", config.frame_size},
        {"generator_cpu", config.generator_cpu},
        {"responder_cpu", config.responder_cpu}}},
      {"clock", report.clock},
      {"environment", environment},
      {"paths", paths},
      {"interrupted", report.interrupted},
  };
  if (report.floor) {
    out["ring_floor"] = {{"messages", report.floor->messages},
                         {"message_size", report.floor->message_size},
                         {"round_trip_ns", report.floor->round_trip_ns.to_json()}};
  } else if (!report.floor_error.empty()) {
    out["ring_floor"] = {{"error", report.floor_error}};
  }
  return out;
}

}  // namespace aether::measure
