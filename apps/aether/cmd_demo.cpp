// `aether demo`: the main job. On any Linux host: how quiet are the cores,
// and what does each path between the wire and the application cost in
// round-trip latency, next to the physical floor? Builds a throwaway
// topology, measures, writes aether-report/, and leaves nothing behind.
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/clock.hpp"
#include "aether/core/thread_setup.hpp"
#include "aether/jitter/jitter_meter.hpp"
#include "bench_options.hpp"
#include "commands.hpp"
#include "report_files.hpp"

namespace aether::cli {
namespace {

struct DemoOptions {
  double seconds = 2.0;
  double jitter_seconds = 2.0;
  std::string out_dir = "aether-report";
  std::string backends = "all";
};

int run_demo(const DemoOptions& options) {
  fmt::print("== Aether demo: OS noise per core, then round-trip latency per path ==\n\n");
  LatencyBenchOptions latency;
  auto allowed = allowed_cpus();
  if (allowed) {
    JitterConfig jitter;
    jitter.cpus = *allowed;
    jitter.duration = std::chrono::nanoseconds(static_cast<std::int64_t>(options.jitter_seconds * 1e9));
    const Clock clock = Clock::calibrate();
    fmt::print(stderr, "aether demo: measuring OS noise on CPUs for {:.1f} s...\n", options.jitter_seconds);
    if (auto report = measure_jitter(jitter, clock)) {
      fmt::print("{}\n", format_jitter_table(*report));
      measure::LatencyBenchConfig::HostNoise noise;
      noise.seconds = options.jitter_seconds;
      for (const auto& cpu : report->cpus) {
        if (cpu.longest_gap_ns >= noise.longest_gap_ns) noise = {cpu.longest_gap_ns, cpu.cpu, options.jitter_seconds};
      }
      latency.host_noise = noise;
      (void)write_text_file(options.out_dir + "/jitter.json", jitter_to_json(*report).dump(2) + "\n");
    } else {
      fmt::print("jitter: not measured: {}\n\n", report.error().describe());
    }
  }
  if (geteuid() != 0) {
    fmt::print(
        "The path comparison needs root here: CAP_SYS_ADMIN to create network namespaces, CAP_NET_ADMIN for the "
        "veth pair, CAP_NET_RAW for afpacket, CAP_BPF and CAP_NET_ADMIN for afxdp. Measuring the ring floor only; "
        "run `sudo make demo` for the full comparison.\n\n");
  }
  latency.backends = options.backends;
  latency.rerun_overloaded = true;
  latency.seconds = options.seconds;
  latency.warmup = 2000;
  latency.out_dir = options.out_dir;
  const int status = run_latency_bench_command(latency);
  // What a trading user came to see: tick-to-trade on market data
  // (docs/market-data.md), a few seconds per path at 100k msg/s.
  fmt::print("\n== Market data: ITCH 5.0 over MoldUDP64, publisher -> feed handler -> OUCH order, 100k msg/s ==\n\n");
  FeedBenchOptions feed;
  feed.backends = geteuid() == 0 ? "memif,afxdp,udp" : "memif";  // the others need a veth pair (root)
  feed.rates = "100000";
  feed.messages = static_cast<std::uint64_t>(options.seconds * 100'000);
  feed.json_path = options.out_dir + "/feed.json";
  const int feed_status = run_feed_bench(feed);
  fmt::print("\nReport: {}/latency.txt, latency.json, latency.svg (open the SVG: the percentile curves), jitter.json, "
             "feed.json\n",
             options.out_dir);
  return status != exit_ok ? status : feed_status;
}

}  // namespace

void register_demo(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* demo = app.add_subcommand(
      "demo",
      "The main job: OS noise per core, then the round trip of 64-byte UDP probes over every path that works here "
      "(kernel UDP spinning and blocking, AF_PACKET, AF_XDP) next to the SPSC-ring floor, on a throwaway veth "
      "pair that is removed afterwards. Writes JSON and an SVG plot to --out.");
  demo->add_option("--seconds", options->seconds, "Recorded seconds per path")->default_val(2.0)->check(CLI::Range(0.1, 600.0));
  demo->add_option("--jitter-seconds", options->jitter_seconds, "Seconds of OS-noise measurement")
      ->default_val(2.0)
      ->check(CLI::Range(0.1, 600.0));
  demo->add_option("--backends", options->backends, "Paths to compare (as for bench latency)")->default_val("all");
  demo->add_option("--out", options->out_dir, "Report directory")->default_val("aether-report");
  demo->callback([options, &exit_code] { exit_code = run_demo(*options); });
}

}  // namespace aether::cli
