// `aether stats [HOST:PORT]`: a live, top-like view of a running Aether
// process, read from its metrics endpoint (`echo --metrics`, `fwd
// --metrics`). Rates are the difference of two successive scrapes over the
// time between them; `--once` prints one view and exits (for scripts).
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "aether/telemetry/scrape_client.hpp"
#include "commands.hpp"
#include "aether/runtime/stop_signal.hpp"

namespace aether::cli {
namespace {

using telemetry::ScrapedSample;
using Clock = std::chrono::steady_clock;

struct StatsOptions {
  std::string address = "127.0.0.1:9464";
  double interval = 1.0;
  bool once = false;
  double timeout = 2.0;
};

struct Scrape {
  std::vector<ScrapedSample> samples;
  Clock::time_point when;
  std::map<std::string, double> by_key;  // series key -> value
};

// A series' identity: its name and every label, in the order written.
std::string series_key(const ScrapedSample& sample) {
  std::string key = sample.name;
  for (const auto& [name, value] : sample.labels) key += fmt::format("|{}={}", name, value);
  return key;
}

Result<Scrape> scrape(const StatsOptions& options) {
  auto response = telemetry::http_get(options.address, "/metrics",
                                      std::chrono::milliseconds(static_cast<long>(options.timeout * 1000)));
  if (!response) return std::move(response).error();
  if (response->status != 200) {
    return invalid_argument(fmt::format("{} answered HTTP {} to GET /metrics", options.address, response->status));
  }
  auto samples = telemetry::parse_exposition(response->body);
  if (!samples) return std::move(samples).error();
  Scrape result{std::move(*samples), Clock::now(), {}};
  for (const ScrapedSample& sample : result.samples) result.by_key[series_key(sample)] = sample.value;
  return result;
}

// Per second between the two scrapes; 0 for a series new in `now`.
double rate(const Scrape& before, const Scrape& now, const ScrapedSample& sample) {
  const auto previous = before.by_key.find(series_key(sample));
  const double seconds = std::chrono::duration<double>(now.when - before.when).count();
  if (previous == before.by_key.end() || seconds <= 0 || sample.value < previous->second) return 0;
  return (sample.value - previous->second) / seconds;
}

std::string si(double value) {
  if (value >= 1e9) return fmt::format("{:.2f}G", value / 1e9);
  if (value >= 1e6) return fmt::format("{:.2f}M", value / 1e6);
  if (value >= 1e3) return fmt::format("{:.1f}k", value / 1e3);
  return fmt::format("{:.0f}", value);
}

// The rate of the series named `name` with the same port and queue labels.
double sibling_rate(const Scrape& before, const Scrape& now, std::string_view name, const ScrapedSample& of,
                    std::string_view reason = {}) {
  double total = 0;
  for (const ScrapedSample& sample : now.samples) {
    if (sample.name == name && sample.label("port") == of.label("port") && sample.label("queue") == of.label("queue") &&
        (reason.empty() || sample.label("reason") == reason)) {
      total += rate(before, now, sample);
    }
  }
  return total;
}

std::string render_view(const StatsOptions& options, const Scrape& before, const Scrape& now) {
  std::string out;
  const double seconds = std::chrono::duration<double>(now.when - before.when).count();
  fmt::format_to(std::back_inserter(out), "aether stats {}  over {:.2f} s  ({} series)\n\n", options.address, seconds,
                 now.samples.size());
  fmt::format_to(std::back_inserter(out), "{:<36} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "PORT / QUEUE", "rx pps",
                 "rx Mbit/s", "tx pps", "tx Mbit/s", "rx drop/s", "tx drop/s");
  for (const ScrapedSample& sample : now.samples) {
    if (sample.name != "aether_queue_rx_packets_total") continue;
    const std::string where = fmt::format("{} q{}", sample.label("port"), sample.label("queue"));
    fmt::format_to(std::back_inserter(out), "{:<36} {:>10} {:>10.1f} {:>10} {:>10.1f} {:>10} {:>10}\n", where,
                   si(rate(before, now, sample)), sibling_rate(before, now, "aether_queue_rx_bytes_total", sample) * 8 / 1e6,
                   si(sibling_rate(before, now, "aether_queue_tx_packets_total", sample)),
                   sibling_rate(before, now, "aether_queue_tx_bytes_total", sample) * 8 / 1e6,
                   si(sibling_rate(before, now, "aether_queue_rx_drops_total", sample)),
                   si(sibling_rate(before, now, "aether_queue_tx_drops_total", sample)));
  }
  fmt::format_to(std::back_inserter(out), "\n{:<24} {:>5} {:>8} {:>10}\n", "WORKER", "CPU", "busy %", "loops/s");
  for (const ScrapedSample& sample : now.samples) {
    if (sample.name != "aether_worker_loops_total") continue;
    const double loops = rate(before, now, sample);
    double busy = 0;
    for (const ScrapedSample& other : now.samples) {
      if (other.name == "aether_worker_busy_loops_total" && other.label("worker") == sample.label("worker") &&
          other.label("cpu") == sample.label("cpu")) {
        busy = rate(before, now, other);
      }
    }
    fmt::format_to(std::back_inserter(out), "{:<24} {:>5} {:>8.1f} {:>10}\n", sample.label("worker"), sample.label("cpu"),
                   loops > 0 ? 100.0 * busy / loops : 0.0, si(loops));
  }
  // Every other counter that is not zero: poller counters, each drop
  // reason, backend xstats.
  fmt::format_to(std::back_inserter(out), "\n{:<64} {:>14} {:>10}\n", "COUNTER", "total", "per s");
  for (const ScrapedSample& sample : now.samples) {
    const bool counter = sample.name.ends_with("_total") || sample.name == "aether_port_xstat";
    if (!counter || sample.value == 0 || sample.name.starts_with("aether_worker_") ||
        (sample.name.starts_with("aether_queue_") && !sample.name.ends_with("drops_total"))) {
      continue;
    }
    std::string labels;
    for (const auto& [name, value] : sample.labels) labels += fmt::format("{}{}={}", labels.empty() ? "" : ",", name, value);
    fmt::format_to(std::back_inserter(out), "{:<64} {:>14.0f} {:>10}\n", fmt::format("{}{{{}}}", sample.name, labels),
                   sample.value, si(rate(before, now, sample)));
  }
  return out;
}

int run_stats(const StatsOptions& options) {
  const auto& stop = runtime::install_stop_signals();
  auto before = scrape(options);
  if (!before) {
    fmt::print(stderr, "aether stats: {}\n", before.error().describe());
    return exit_failure;
  }
  const bool terminal = isatty(STDOUT_FILENO) == 1 && !options.once;
  while (!stop.load(std::memory_order_relaxed)) {
    const auto wake = before->when + std::chrono::milliseconds(static_cast<long>(options.interval * 1000));
    while (Clock::now() < wake && !stop.load(std::memory_order_relaxed)) {
      std::this_thread::sleep_for(std::min<Clock::duration>(wake - Clock::now(), std::chrono::milliseconds(100)));
    }
    if (stop.load(std::memory_order_relaxed)) break;
    auto now = scrape(options);
    if (!now) {
      fmt::print(stderr, "aether stats: {}\n", now.error().describe());
      return exit_failure;
    }
    // Top-like on a terminal: redraw from the top left; else one view after another.
    fmt::print("{}{}", terminal ? "\x1b[H\x1b[J" : "", render_view(options, *before, *now));
    std::fflush(stdout);
    if (options.once) break;
    before = std::move(now);
  }
  return exit_ok;
}

}  // namespace

void register_stats(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<StatsOptions>();
  CLI::App* stats = app.add_subcommand(
      "stats", "Live view of a running Aether process (echo/fwd --metrics): per-queue rates, drops, worker busy %");
  stats->add_option("ADDRESS", options->address, "Its metrics endpoint HOST:PORT")->default_val("127.0.0.1:9464");
  stats->add_option("--interval", options->interval, "Seconds between scrapes")->default_val(1.0)->check(CLI::Range(0.05, 3600.0));
  stats->add_flag("--once", options->once, "Print one view (two scrapes, --interval apart) and exit");
  stats->add_option("--timeout", options->timeout, "Seconds one scrape may take")->default_val(2.0)->check(CLI::Range(0.1, 60.0));
  stats->callback([options, &exit_code] { exit_code = run_stats(*options); });
}

}  // namespace aether::cli
