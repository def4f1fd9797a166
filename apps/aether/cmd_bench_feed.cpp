// `aether bench feed`: the publisher and the feed handler (docs/market-data.md)
// on two pinned CPUs over each path (a throwaway veth pair for udp, afpacket
// and afxdp; memif's two ends on one socket), at each rate: tick-to-trade
// (the handler's rx_burst -> its order taken by tx_burst) and wire to wire
// (the triggering packet due at the publisher -> the order back there: a
// late send counts, so no coordinated omission), messages/s, drops, gaps,
// the handler's CPU; a table and JSON.
#include <arpa/inet.h>

#include <charconv>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/clock.hpp"
#include "aether/feed/feed_handler.hpp"
#include "aether/feed/feed_publisher.hpp"
#include "aether/measure/comparison.hpp"
#include "aether/measure/port_on_veth.hpp"
#include "aether/stats/duration_format.hpp"
#include "bench_options.hpp"
#include "commands.hpp"
#include "aether/runtime/stop_signal.hpp"

namespace aether::cli {
namespace {

constexpr std::uint16_t feed_port = 26400;  // Nasdaq's ITCH multicast port in the generated pcap
constexpr double overloaded_below = 0.95;   // as bench latency: under 95 % of the offered rate

struct Percentiles {
  std::uint64_t count = 0, p50 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0;
  double mean = 0;
};

Percentiles percentiles(const LatencyHistogram& ticks, const Clock& clock) {
  if (ticks.count() == 0) return {};
  return {ticks.count(),
          clock.to_ns(ticks.percentile(50)),
          clock.to_ns(ticks.percentile(99)),
          clock.to_ns(ticks.percentile(99.9)),
          clock.to_ns(ticks.percentile(99.99)),
          clock.to_ns(ticks.max()),
          ticks.mean() / clock.ticks_per_ns()};
}

struct FeedBenchRow {
  std::string path, rate_label;
  double offered = 0;  // messages/s; 0: max
  double achieved = 0;
  std::uint64_t messages = 0, gaps = 0, drops = 0, orders = 0;
  double handler_cpu_percent = 0;
  bool complete = false, overloaded = false;
  Percentiles tick_to_trade, wire_to_wire;
  std::string error;
};

// One path at one rate: a fresh pair of ports, the two workers, until the
// handler has the whole day (or the timeout).
FeedBenchRow run_one(const measure::BenchBackend& backend, double rate, const std::string& rate_label,
                     const feed::RecordedDay& day, const Clock& clock, std::pair<unsigned, unsigned> cpus,
                     double timeout) {
  FeedBenchRow row;
  row.path = backend.name;
  row.rate_label = rate_label;
  row.offered = rate;
  auto link = measure::PortsOnVeth::open_for(backend, feed_port);
  if (!link) {
    row.error = link.error().describe();
    return row;
  }
  const auto& a = link->end_a();
  const auto& b = link->end_b();
  feed::FeedPublisherConfig publisher_config;
  publisher_config.source = {a.mac, a.ip_be, htons(feed_port)};
  // L2 paths carry the multicast group; the kernel path sends to the
  // handler's address (its socket joins no group yet).
  const std::uint32_t group = *net::parse_ipv4_be("239.54.12.111");
  publisher_config.group = backend.kind == "udp" ? net::UdpEndpoint{b.mac, b.ip_be, htons(feed_port)}
                                                 : net::UdpEndpoint{feed::multicast_mac(group), group, htons(feed_port)};
  publisher_config.messages_per_second = rate;
  publisher_config.ticks_per_second = clock.ticks_per_ns() * 1e9;
  feed::FeedHandlerConfig handler_config;
  handler_config.local = {b.mac, b.ip_be, htons(feed_port)};
  handler_config.request_timeout_ticks = clock.from_ns(1'000'000);
  auto handler = std::make_unique<feed::FeedHandler>(link->responder().port->queue(0), *link->responder().pool,
                                                     handler_config);
  auto publisher = std::make_unique<feed::FeedPublisher>(link->generator().port->queue(0), *link->generator().pool,
                                                         day, publisher_config);
  dataplane::WorkerOptions handler_worker{cpus.second, std::nullopt, "feed-handler"};
  dataplane::WorkerOptions publisher_worker{cpus.first, std::nullopt, "feed-publisher"};
  handler_worker.idle_loops_before_sleep = publisher_worker.idle_loops_before_sleep = 0;
  auto handler_thread = dataplane::Worker::start(handler_worker, {handler.get()});
  if (!handler_thread) {
    row.error = handler_thread.error().describe();
    return row;
  }
  const auto start = std::chrono::steady_clock::now();
  auto publisher_thread = dataplane::Worker::start(publisher_worker, {publisher.get()});
  if (!publisher_thread) {
    row.error = publisher_thread.error().describe();
    return row;
  }
  const auto& interrupted = runtime::install_stop_signals();
  const auto& handled = handler->counters();
  while (handled.end_of_session_applied.get() == 0 && !interrupted.load(std::memory_order_relaxed) &&
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < timeout) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the last orders reach the publisher
  const dataplane::WorkerStats handler_stats = (*handler_thread)->join();
  (*publisher_thread)->join();
  row.complete = handled.end_of_session_applied.get() > 0;
  row.messages = handled.messages_applied.get();
  row.achieved = static_cast<double>(row.messages) / seconds;
  row.overloaded = !row.complete || (rate > 0 && row.achieved < overloaded_below * rate);
  row.gaps = handled.gaps.get();
  row.drops = handled.frames_dropped_count() + link->responder().port->stats().rx_drops();
  row.orders = handled.orders_sent.get();
  row.handler_cpu_percent = 100.0 * static_cast<double>(handler_stats.cpu_time_ns) / (seconds * 1e9);
  row.tick_to_trade = percentiles(handler->tick_to_trade_ticks(), clock);
  row.wire_to_wire = percentiles(publisher->wire_to_wire_ticks(), clock);
  return row;
}

std::string format_table(const std::vector<FeedBenchRow>& rows) {
  std::string out = fmt::format("{:<9} {:>6} {:>10} {:>6} {:>6} {:>5} | {:>9} {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} {:>9}\n",
                                "path", "rate", "msgs/s", "gaps", "drops", "cpu%", "t2t p50", "p99", "p99.9", "p99.99",
                                "max", "w2w p50", "p99", "p99.9", "max");
  const auto d = [](std::uint64_t ns) { return format_duration_ns(ns); };
  for (const FeedBenchRow& row : rows) {
    if (!row.error.empty()) {
      out += fmt::format("{:<9} {:>6}  error: {}\n", row.path, row.rate_label, row.error);
      continue;
    }
    out += fmt::format("{:<9} {:>6} {:>10.0f} {:>6} {:>6} {:>5.0f} | {:>9} {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} {:>9}",
                       row.path, row.rate_label, row.achieved, row.gaps, row.drops, row.handler_cpu_percent,
                       d(row.tick_to_trade.p50), d(row.tick_to_trade.p99), d(row.tick_to_trade.p999),
                       d(row.tick_to_trade.p9999), d(row.tick_to_trade.max), d(row.wire_to_wire.p50),
                       d(row.wire_to_wire.p99), d(row.wire_to_wire.p999), d(row.wire_to_wire.max));
    if (row.overloaded) {
      out += row.complete ? fmt::format("  OVERLOADED: sustained {:.0f}k/s", row.achieved / 1e3)
                          : fmt::format("  OVERLOADED: day incomplete ({} of the messages)", row.messages);
    } else {
      // Against the AF_XDP row at the same rate (the kernel's fast path).
      for (const FeedBenchRow& other : rows) {
        if (other.path == "afxdp" && other.rate_label == row.rate_label && &other != &row && other.error.empty() &&
            !other.overloaded) {
          out += fmt::format("  t2t p99.9: {} vs afxdp",
                             measure::format_factor(static_cast<double>(row.tick_to_trade.p999),
                                                    static_cast<double>(other.tick_to_trade.p999)));
        }
      }
    }
    out += "\n";
  }
  return out;
}

nlohmann::json to_json(const std::vector<FeedBenchRow>& rows, const FeedBenchOptions& options) {
  const auto percentiles_json = [](const Percentiles& p) {
    return nlohmann::json{{"count", p.count}, {"mean_ns", p.mean}, {"p50_ns", p.p50}, {"p99_ns", p.p99},
                          {"p99.9_ns", p.p999}, {"p99.99_ns", p.p9999}, {"max_ns", p.max}};
  };
  nlohmann::json out{{"messages", options.messages}, {"symbols", options.symbols}, {"rows", nlohmann::json::array()}};
  for (const FeedBenchRow& row : rows) {
    out["rows"].push_back({{"path", row.path}, {"rate", row.rate_label}, {"offered_msgs_per_s", row.offered},
                           {"achieved_msgs_per_s", row.achieved}, {"messages", row.messages}, {"gaps", row.gaps},
                           {"drops", row.drops}, {"orders", row.orders}, {"handler_cpu_percent", row.handler_cpu_percent},
                           {"complete", row.complete}, {"overloaded", row.overloaded}, {"error", row.error},
                           {"tick_to_trade", percentiles_json(row.tick_to_trade)},
                           {"wire_to_wire", percentiles_json(row.wire_to_wire)}});
  }
  return out;
}

Result<std::vector<std::pair<std::string, double>>> parse_rates(const std::string& list) {
  std::vector<std::pair<std::string, double>> rates;
  std::size_t begin = 0;
  while (begin <= list.size()) {
    const std::size_t end = std::min(list.find(',', begin), list.size());
    const std::string item = list.substr(begin, end - begin);
    double rate = 0;
    if (item == "max") {
      rates.emplace_back("max", 0);
    } else if (std::from_chars(item.data(), item.data() + item.size(), rate).ec == std::errc() && rate > 0) {
      rates.emplace_back(rate >= 1e6 ? fmt::format("{:g}M", rate / 1e6) : fmt::format("{:g}k", rate / 1e3), rate);
    } else {
      return Error{std::make_error_code(std::errc::invalid_argument),
                   fmt::format("--rates: '{}' is not messages per second (e.g. 100000) or max", item)};
    }
    begin = end + 1;
  }
  return rates;
}

}  // namespace

int run_feed_bench(const FeedBenchOptions& options) {
  const auto fail = [](const Error& error) {
    fmt::print(stderr, "aether bench feed: {}\n", error.describe());
    return exit_failure;
  };
  auto rates = parse_rates(options.rates);
  if (!rates) return fail(rates.error());
  auto backends = measure::select_bench_backends(options.backends);
  if (!backends) return fail(backends.error());
  auto cpus = choose_bench_cpus(options.cpus, PartitionPlacementOptions{}, "aether bench feed");
  if (!cpus) return fail(cpus.error());
  feed::DayConfig day_config;
  day_config.messages = options.messages;
  day_config.symbols = options.symbols;
  auto day = feed::record_day(day_config);
  if (!day) return fail(day.error());
  const Clock clock = Clock::calibrate();
  fmt::print("feed bench: a day of {} messages, {} symbols; publisher on CPU {}, handler on CPU {}\n",
             day->stats.messages, options.symbols, cpus->first, cpus->second);
  std::vector<FeedBenchRow> rows;
  for (const measure::BenchBackend& backend : *backends) {
    for (const auto& [label, rate] : *rates) {
      rows.push_back(run_one(backend, rate, label, *day, clock, *cpus, options.timeout));
      std::fflush(stdout);
    }
  }
  fmt::print("{}", format_table(rows));
  fmt::print("t2t: tick-to-trade, the handler's rx_burst -> its order taken by tx_burst; w2w: wire to wire, the "
             "triggering packet due at the publisher -> the order back there\n");
  if (!options.json_path.empty()) {
    std::ofstream file(options.json_path);
    file << to_json(rows, options).dump(2) << "\n";
    if (!file) return fail(Error{std::make_error_code(std::errc::io_error), "cannot write " + options.json_path});
  }
  for (const FeedBenchRow& row : rows) {
    if (!row.error.empty()) return exit_failure;
  }
  return exit_ok;
}

void register_feed_bench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<FeedBenchOptions>();
  CLI::App* command = bench.add_subcommand(
      "feed", "Market data: the publisher and the feed handler on two pinned CPUs over each path and rate; "
              "tick-to-trade and wire-to-wire percentiles, msgs/s, gaps, drops, CPU (docs/market-data.md). Needs root "
              "for the veth paths.");
  command->add_option("--backends", options->backends, "Paths: udp, afpacket, afxdp, memif (comma-separated) or all")
      ->capture_default_str();
  command->add_option("--rates", options->rates, "Messages per second, comma-separated, or max")->capture_default_str();
  command->add_option("--messages", options->messages, "Messages in the generated day")->capture_default_str();
  command->add_option("--symbols", options->symbols, "Symbols")->capture_default_str()->check(CLI::Range(1, 65535));
  command->add_option("--cpus", options->cpus, "Publisher and handler CPUs, e.g. 0,1 (default: the first two allowed)");
  command->add_option("--timeout", options->timeout, "Seconds a run may take before it is marked incomplete")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--json", options->json_path, "Write the rows as JSON here");
  command->callback([options, &exit_code] { exit_code = run_feed_bench(*options); });
}

}  // namespace aether::cli
