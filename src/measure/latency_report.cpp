// `aether bench latency` outputs: the side-by-side table and JSON.
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/stats/duration_format.hpp"
#include "aether/measure/comparison.hpp"
#include "aether/measure/latency_bench.hpp"
#include "aether/measure/latency_vs_dpdk.hpp"

namespace aether::measure {
namespace {

std::string format_rate(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.3g}M/s", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.3g}k/s", per_second / 1e3);
  return fmt::format("{:.0f}/s", per_second);
}

// The row every other is compared with: AF_XDP, the kernel's own fast path
// and the yardstick a bypass runtime must beat; the kernel UDP socket when
// AF_XDP did not run. Only a row at the configured rate, and never an
// overloaded one: its figures are a queue's.
const BackendLatency* find_reference(const LatencyBenchReport& report) {
  for (const char* name : {"afxdp", "udp"}) {
    for (const auto& backend : report.backends) {
      if (backend.backend.name == name && backend.error.empty() && !backend.overloaded() &&
          backend.rate_per_second == report.config.rate_per_second &&
          backend.generator.round_trip_ns.count() > 0) {
        return &backend;
      }
    }
  }
  return nullptr;
}

const BackendLatency* find_row(const LatencyBenchReport& report, const std::string& name) {
  for (const auto& backend : report.backends) {
    if (backend.backend.name == name && backend.error.empty() && backend.generator.round_trip_ns.count() > 0 &&
        backend.rate_per_second == report.config.rate_per_second) {
      return &backend;
    }
  }
  return nullptr;
}

// Each of Aether's roles against DPDK in the same role, over memif: the
// DPDK-only row is the baseline both are read against.
std::string format_against_dpdk(const LatencyBenchReport& report) {
  if (!report.config.vs_dpdk) return {};
  std::string out = "\nmemif against DPDK 22.11 (same CPUs, same run; round trips, lower is better):\n";
  const BackendLatency* dpdk = find_row(report, memif_dpdk_to_testpmd);
  if (dpdk == nullptr) return out + "  no DPDK baseline: the memif dpdk>testpmd row did not run (see its row)\n";
  out += fmt::format("  {:<22} {:<22} {:>16} {:>16}\n", "Aether's role", "row", "p50 vs DPDK", "p99.9 vs DPDK");
  const double dpdk_p50 = static_cast<double>(dpdk->generator.round_trip_ns.percentile(50));
  const double dpdk_p999 = static_cast<double>(dpdk->generator.round_trip_ns.percentile(99.9));
  for (const auto& [role, name] : {std::pair{"generator", memif_aether_to_testpmd}, std::pair{"responder", memif_dpdk_to_aether},
                                   std::pair{"both ends", "memif"}}) {
    const BackendLatency* aether = find_row(report, name);
    if (aether == nullptr) {
      out += fmt::format("  {:<22} {:<22} not measured\n", role, name);
      continue;
    }
    const bool overloaded = aether->overloaded() || dpdk->overloaded();
    const auto& h = aether->generator.round_trip_ns;
    out += fmt::format("  {:<22} {:<22} {:>16} {:>16}{}\n", role, name,
                       format_factor(static_cast<double>(h.percentile(50)), dpdk_p50),
                       format_factor(static_cast<double>(h.percentile(99.9)), dpdk_p999),
                       overloaded ? "  (a row is OVERLOADED: not comparable)" : "");
  }
  return out;
}

}  // namespace

std::string latency_row_label(const BackendLatency& backend, const LatencyBenchConfig& config) {
  if (backend.rate_per_second == config.rate_per_second) return backend.backend.name;
  return fmt::format("{} @{}", backend.backend.name, format_rate(backend.rate_per_second));
}

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
  // Wide enough for a --ports label (the two specs) or a re-measured row's rate.
  std::size_t width = 11;
  for (const auto& backend : report.backends) width = std::max(width, latency_row_label(backend, config).size());
  const BackendLatency* reference = find_reference(report);
  const std::string against = reference ? reference->backend.name : std::string("ref");
  const std::string p50_header = "p50 vs " + against;
  const std::string p999_header = "p99.9 vs " + against;
  out += fmt::format("{:<{}} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>6} {:>6} {:>14} {:>14}\n", "path", width, "p50", "p99",
                     "p99.9", "p99.99", "max", "lost", "replies", "CPU%", "gen%", p50_header, p999_header);
  const double ref_p50 = reference ? static_cast<double>(reference->generator.round_trip_ns.percentile(50)) : 0;
  const double ref_p999 = reference ? static_cast<double>(reference->generator.round_trip_ns.percentile(99.9)) : 0;
  auto row = [&](const std::string& name, const LatencyHistogram& histogram, const std::string& lost,
                 const std::string& replies, const std::string& cpu, const std::string& generator_cpu,
                 const std::string& verdict) {
    auto pct = [&](double p) { return histogram.count() == 0 ? std::string("-") : format_duration_ns(histogram.percentile(p)); };
    // An overloaded row's percentiles are a queue's: no factor against a path.
    const bool comparable = verdict.empty();
    out += fmt::format("{:<{}} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>6} {:>6} {:>14} {:>14}{}\n", name, width, pct(50),
                       pct(99), pct(99.9), pct(99.99), histogram.count() == 0 ? "-" : format_duration_ns(histogram.max()),
                       lost, replies, cpu, generator_cpu,
                       comparable ? format_factor(static_cast<double>(histogram.percentile(50)), ref_p50) : "-",
                       comparable ? format_factor(static_cast<double>(histogram.percentile(99.9)), ref_p999) : "-",
                       verdict.empty() ? std::string() : "  " + verdict);
  };
  if (report.floor) {
    row("ring floor", report.floor->round_trip_ns, "0", std::to_string(report.floor->messages), "100", "100", "");
  } else if (!report.floor_error.empty()) {
    out += fmt::format("{:<{}} not measured: {}\n", "ring floor", width, report.floor_error);
  }
  bool any_overloaded = false;
  for (const auto& backend : report.backends) {
    const std::string label = latency_row_label(backend, config);
    if (!backend.error.empty()) {
      out += fmt::format("{:<{}} not measured: {}\n", label, width, backend.error);
      continue;
    }
    const auto& g = backend.generator;
    std::string verdict;
    if (backend.overloaded()) {
      any_overloaded = true;
      verdict = fmt::format("OVERLOADED: sustained {} of {}", format_rate(backend.sustained_per_second()),
                            format_rate(backend.rate_per_second));
    }
    auto percent = [](double value) { return value < 0 ? std::string("-") : fmt::format("{:.0f}", value); };
    row(label, g.round_trip_ns, std::to_string(g.lost), std::to_string(g.received), percent(backend.responder_cpu_percent),
        percent(backend.generator_cpu_percent), verdict);
  }
  out += "\nCPU%: the responder's CPU time over the run; gen%: the generator's. ";
  out += reference ? fmt::format("Factors are against the {} row (lower is better).\n", reference->backend.name)
                   : std::string("No factors: no afxdp or udp row was measured at the bench's rate without overload.\n");
  if (any_overloaded) {
    out += fmt::format(
        "OVERLOADED: the path answered fewer than {:.0f} % of the offered probes per second, so its figures measure "
        "the queue in front of it, not the path.{}\n",
        100 * sustained_share_min,
        config.rerun_overloaded ? " It was measured again at 80 % of what it sustained (the row marked @rate)." : "");
  }
  if (config.host_noise) {
    const auto& noise = *config.host_noise;
    out += fmt::format(
        "host noise (aether jitter, {:.1f} s in this run): longest gap {} on CPU {}; a tail near or above it is the "
        "host stopping the core, not the path.\n",
        noise.seconds, format_duration_ns(noise.longest_gap_ns), noise.cpu);
  }
  out += format_against_dpdk(report);
  for (const auto& backend : report.backends) {
    if (!backend.error.empty()) continue;
    out += fmt::format("{}: {} (responder {})\n", latency_row_label(backend, config), backend.mode, backend.responder_spec);
    for (const auto& note : backend.notes) out += fmt::format("  note: {}\n", note);
    const auto& g = backend.generator;
    if (g.unexpected > 0 || backend.responder_dropped > 0) {
      out += fmt::format("  {} unexpected frames at the generator, {} dropped by the responder\n", g.unexpected,
                         backend.responder_dropped);
    }
    if (backend.rate_per_second > 0 && g.late_send_ns_max > 1'000'000) {
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
    nlohmann::json path = {
        {"name", backend.backend.name}, {"label", latency_row_label(backend, config)}, {"kind", backend.backend.kind}};
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
        {"offered_per_second", backend.rate_per_second},
        {"sustained_per_second", backend.sustained_per_second()},
        {"overloaded", backend.overloaded()},
        {"elapsed_ns", g.elapsed_ns},
        {"responder_received", backend.responder_received},
        {"responder_sent", backend.responder_sent},
        {"responder_dropped", backend.responder_dropped},
        // null: a DPDK process's CPU time is not measured
        {"responder_cpu_percent", backend.responder_cpu_percent < 0 ? nlohmann::json() : nlohmann::json(backend.responder_cpu_percent)},
        {"generator_cpu_percent", backend.generator_cpu_percent < 0 ? nlohmann::json() : nlohmann::json(backend.generator_cpu_percent)},
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
        {"responder_cpu", config.responder_cpu},
        {"vs_dpdk", config.vs_dpdk}}},
      {"clock", report.clock},
      {"environment", environment},
      {"paths", paths},
      {"interrupted", report.interrupted},
  };
  if (const BackendLatency* reference = find_reference(report)) out["reference_path"] = reference->backend.name;
  if (config.host_noise) {
    out["host_noise"] = {{"longest_gap_ns", config.host_noise->longest_gap_ns},
                         {"cpu", config.host_noise->cpu},
                         {"seconds", config.host_noise->seconds}};
  }
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
