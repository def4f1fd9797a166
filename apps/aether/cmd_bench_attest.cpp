// `aether bench attest`: what attestation costs and how fast drift is seen.
//   quote_verify   one in-process round of quote_log + verify_bundle (PCR
//                  reset, one extend per event, TPM2_Quote, ECDSA verify,
//                  replay, policy) with an already measured log
//   binary_hash    SHA-256 of the running executable (/proc/self/exe)
//   measure_without_binary  one measure_host() of this host, binary hash cached
//   cli            `aether attest quote` + `aether attest verify` as processes
//   watch_drift    from a change of the measured config file to the watch
//                  loop's first rejecting round (interval --interval-ms)
// Against --tcti, or a private swtpm the command starts. Prints JSON.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/attest/attestation.hpp"
#include "aether/attest/measurements.hpp"
#include "aether/attest/swtpm_process.hpp"
#include "aether/attest/verify.hpp"
#include "aether/attest/watch.hpp"
#include "aether/stats/latency_histogram.hpp"
#include "bench_options.hpp"
#include "commands.hpp"

namespace aether::cli {
namespace {

using namespace aether::attest;
using Clock = std::chrono::steady_clock;

struct AttestBenchOptions {
  std::string tcti;  // empty: start a private swtpm
  unsigned rounds = 1000;
  unsigned cli_rounds = 20;
  unsigned drift_trials = 10;
  unsigned interval_ms = 50;
  std::string json_path;
};

std::uint64_t elapsed_ns(Clock::time_point since) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - since).count());
}

nlohmann::json summary_ms(const LatencyHistogram& histogram) {
  auto ms = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  return {{"count", histogram.count()},           {"p50_ms", ms(histogram.percentile(50))},
          {"p99_ms", ms(histogram.percentile(99))}, {"p99_9_ms", ms(histogram.percentile(99.9))},
          {"max_ms", ms(histogram.max())}};
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::trunc) << text; }

// `aether attest quote` then `aether attest verify`, as a user runs them.
Result<LatencyHistogram> measure_cli(const std::string& tcti, const std::string& directory, unsigned rounds) {
  LatencyHistogram histogram;
  const std::string self = "/proc/self/exe";
  char path[4096] = {};
  const ssize_t size = ::readlink(self.c_str(), path, sizeof(path) - 1);
  if (size <= 0) return errno_error("readlink /proc/self/exe");
  const std::string aether(path, static_cast<std::size_t>(size));
  const std::string policy = directory + "/policy.json";
  const std::string quote = directory + "/quote.json";
  auto run = [](const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); };
  if (run(fmt::format("{} attest policy --tcti {} --out {}", aether, tcti, policy)) != 0) {
    return invalid_argument("aether attest policy failed in the CLI rounds");
  }
  for (unsigned round = 0; round < rounds; ++round) {
    const auto start = Clock::now();
    const int quoted = run(fmt::format("{} attest quote --tcti {} --nonce 0102{:04x} --out {}", aether, tcti, round, quote));
    const int verified = run(fmt::format("{} attest verify {} --policy {} --nonce 0102{:04x}", aether, quote, policy, round));
    if (quoted != 0 || verified != 0) return invalid_argument(fmt::format("CLI round {} failed", round));
    histogram.record(elapsed_ns(start));
  }
  return histogram;
}

// A watch loop on one thread; another changes the measured config file at a
// random moment of the interval and waits until the loop reports it, then
// restores it and waits until the loop accepts again.
Result<LatencyHistogram> measure_drift(TpmSession& tpm, const std::string& directory, const AttestBenchOptions& options) {
  const std::string config = directory + "/aether.conf";
  write_text(config, "cpus = 2-3\n");
  MeasureOptions measure;
  measure.config = config;
  auto log = measure_host(measure);
  if (!log) return std::move(log).error();
  auto watcher = Watcher::create(tpm, measure, policy_from_log(*log, tpm.attestation_key()));
  if (!watcher) return std::move(watcher).error();

  std::atomic<std::int64_t> changed_at{0};  // ns since epoch of steady_clock; 0: no change pending
  std::atomic<bool> rejected{false};
  std::atomic<bool> done{false};
  std::optional<Error> failure;
  LatencyHistogram histogram;
  std::thread loop([&] {
    const auto interval = std::chrono::milliseconds(options.interval_ms);
    auto due = Clock::now();
    while (!done.load(std::memory_order_acquire)) {
      std::this_thread::sleep_until(due);
      due += interval;
      auto report = watcher->check_once();
      const auto now = Clock::now().time_since_epoch().count();
      if (!report) {
        failure = std::move(report).error();
        done.store(true, std::memory_order_release);
        return;
      }
      const std::int64_t change = changed_at.load(std::memory_order_acquire);
      if (!report->accepted() && change != 0 && !rejected.load(std::memory_order_acquire)) {
        histogram.record(static_cast<std::uint64_t>(now - change));
      }
      // release: the changer reads `histogram` only after seeing this flag.
      rejected.store(!report->accepted(), std::memory_order_release);
    }
  });
  std::mt19937 random(12345);
  std::uniform_int_distribution<unsigned> jitter_us(0, options.interval_ms * 1000);
  for (unsigned trial = 0; trial < options.drift_trials && !done.load(); ++trial) {
    std::this_thread::sleep_for(std::chrono::microseconds(jitter_us(random)));
    changed_at.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
    write_text(config, fmt::format("cpus = 2-3\n# drift {}\n", trial));
    while (!rejected.load(std::memory_order_acquire) && !done.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    changed_at.store(0, std::memory_order_release);
    write_text(config, "cpus = 2-3\n");
    while (rejected.load(std::memory_order_acquire) && !done.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  done.store(true, std::memory_order_release);
  loop.join();
  if (failure) return std::move(*failure);
  return histogram;
}

int run_attest_bench(const AttestBenchOptions& options) {
  auto fail = [](const Error& error) {
    fmt::print(stderr, "aether bench attest: {}\n", error.describe());
    return exit_failure;
  };
  std::optional<SwtpmProcess> swtpm;
  std::string tcti = options.tcti;
  if (tcti.empty()) {
    auto started = SwtpmProcess::start();
    if (!started) return fail(started.error());
    swtpm.emplace(std::move(*started));
    tcti = swtpm->tcti();
  }
  char pattern[] = "/tmp/aether-bench-attest-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return fail(errno_error("mkdtemp"));
  const std::string directory = pattern;
  nlohmann::json report = {{"tcti", tcti}, {"private_swtpm", swtpm.has_value()}};
  {
    auto tpm = TpmSession::open(TpmOptions{tcti, true, false});
    if (!tpm) return fail(tpm.error());
    // The binary's hash apart from the rest: `watch` pays it once, the CLI every run.
    LatencyHistogram hash_cost;
    MeasureOptions measure;
    for (unsigned i = 0; i < 5; ++i) {
      const auto start = Clock::now();
      auto digest = sha256_file(measure.binary);
      if (!digest) return fail(digest.error());
      hash_cost.record(elapsed_ns(start));
      measure.binary_digest = *digest;
    }
    LatencyHistogram measure_cost;
    std::optional<EventLog> log;
    for (unsigned i = 0; i < 20; ++i) {
      const auto start = Clock::now();
      auto measured = measure_host(measure);
      if (!measured) return fail(measured.error());
      measure_cost.record(elapsed_ns(start));
      log = std::move(*measured);
    }
    const Policy policy = policy_from_log(*log, tpm->attestation_key());
    LatencyHistogram round_cost;
    for (unsigned round = 0; round < options.rounds + 10; ++round) {  // 10 warm-up rounds
      auto nonce = random_nonce();
      if (!nonce) return fail(nonce.error());
      const auto start = Clock::now();
      auto bundle = quote_log(*tpm, *log, *nonce);
      if (!bundle) return fail(bundle.error());
      const VerifyReport verdict = verify_bundle(*bundle, *nonce, policy);
      const std::uint64_t cost = elapsed_ns(start);
      if (!verdict.accepted()) return fail(invalid_argument("a genuine quote was rejected: " + verdict.failures.front()));
      if (round >= 10) round_cost.record(cost);
    }
    report["events"] = log->events.size();
    report["binary_hash"] = summary_ms(hash_cost);
    report["binary_bytes"] = std::filesystem::file_size(measure.binary);
    report["measure_without_binary"] = summary_ms(measure_cost);
    report["quote_verify"] = summary_ms(round_cost);
    if (options.drift_trials > 0) {
      auto drift = measure_drift(*tpm, directory, options);
      if (!drift) return fail(drift.error());
      report["watch_drift"] = summary_ms(*drift);
      report["watch_drift"]["interval_ms"] = options.interval_ms;
    }
    auto counts = tpm->handle_counts();
    if (!counts) return fail(counts.error());
    // The session's own AK is the one transient object expected.
    report["tpm_handles_after"] = {{"transient_objects", counts->transient_objects},
                                   {"loaded_sessions", counts->loaded_sessions}};
  }
  if (options.cli_rounds > 0) {
    auto cli = measure_cli(tcti, directory, options.cli_rounds);
    if (!cli) return fail(cli.error());
    report["cli_quote_verify"] = summary_ms(*cli);
  }
  std::error_code ignored;
  std::filesystem::remove_all(directory, ignored);
  fmt::print("{}\n", report.dump(2));
  if (!options.json_path.empty()) write_text(options.json_path, report.dump(2) + "\n");
  return exit_ok;
}

}  // namespace

void register_attest_bench(CLI::App& bench, int& exit_code) {
  auto options = std::make_shared<AttestBenchOptions>();
  CLI::App* command = bench.add_subcommand(
      "attest",
      "Attestation cost: in-process quote+verify, measuring the host, the CLI quote+verify, and watch's drift "
      "detection latency; JSON. Starts a private swtpm unless --tcti is given.");
  command->add_option("--tcti", options->tcti, "TPM to use (default: a private swtpm)");
  command->add_option("--rounds", options->rounds, "In-process quote+verify rounds")->capture_default_str();
  command->add_option("--cli-rounds", options->cli_rounds, "CLI quote+verify rounds (0: skip)")->capture_default_str();
  command->add_option("--drift-trials", options->drift_trials, "Config changes for watch to detect (0: skip)")
      ->capture_default_str();
  command->add_option("--interval-ms", options->interval_ms, "Watch interval")->capture_default_str();
  command->add_option("--json", options->json_path, "Also write the JSON here");
  command->callback([options, &exit_code] { exit_code = run_attest_bench(*options); });
}

}  // namespace aether::cli
