// `aether bench attest`: what attestation costs and how fast drift is seen.
//   quote_verify   one in-process round of quote_log + verify_bundle (PCR
//                  reset, one extend per event, TPM2_Quote, ECDSA verify,
//                  replay, policy) with an already measured log
//   binary_hash    SHA-256 of the running executable (/proc/self/exe)
//   measure_without_binary  one measure_host() of this host, binary hash cached
//   cli            `aether attest quote` + `aether attest verify` as processes
//   watch_drift    from a change of the measured config file to the watch
//                  loop's first rejecting round (interval --interval-ms)
// With --leak-quotes N, only the handle-leak run instead (run_leak below).
// Against --tcti, or a private swtpm the command starts. Prints JSON.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
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
  unsigned leak_quotes = 0;     // > 0: the handle-leak run only
  unsigned session_quotes = 100;
  unsigned kill_every = 1000;   // 0: no killed runs
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

Result<std::string> self_path() {
  char path[4096] = {};
  const ssize_t size = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (size <= 0) return errno_error("readlink /proc/self/exe");
  return std::string(path, static_cast<std::size_t>(size));
}

// `aether attest quote` then `aether attest verify`, as a user runs them.
Result<LatencyHistogram> measure_cli(const std::string& tcti, const std::string& directory, unsigned rounds) {
  LatencyHistogram histogram;
  auto self = self_path();
  if (!self) return std::move(self).error();
  const std::string& aether = *self;
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

// Transient objects and sessions on the TPM, not counting the counting
// session's own AK (a session opened without reclaiming).
Result<TpmHandleCounts> tpm_leftovers(const std::string& tcti) {
  auto counter = TpmSession::open(TpmOptions{tcti, false, false});
  if (!counter) return std::move(counter).error();
  auto counts = counter->handle_counts();
  if (!counts) return std::move(counts).error();
  return TpmHandleCounts{counts->transient_objects - 1, counts->loaded_sessions};
}

nlohmann::json counts_json(const TpmHandleCounts& counts) {
  return {{"transient_objects", counts.transient_objects}, {"loaded_sessions", counts.loaded_sessions}};
}

// The handle-leak run: --leak-quotes quotes (each verified) over sessions of
// --session-quotes quotes, opened without reclaiming so that any leak
// accumulates and shows. Every --kill-every quotes, at a session boundary,
// `aether attest quote --kill-after-key-loaded` SIGKILLs itself with its AK
// loaded (a kill -9 mid-quote: the one leak a process cannot prevent), and
// the next session is opened with reclaiming, which must flush exactly that
// AK. The TPM's transient objects and sessions are counted before and after.
Result<nlohmann::json> run_leak(const std::string& tcti, const AttestBenchOptions& options) {
  const auto before = tpm_leftovers(tcti);
  if (!before) return before.error();
  const auto aether = self_path();
  if (!aether) return aether.error();
  EventLog log;
  log.events = {make_event("leak.a", "1\n"), make_event("leak.b", "2\n")};
  const Policy policy = policy_from_log(log, std::nullopt);
  unsigned sessions = 0;
  unsigned kills = 0;
  unsigned reclaimed_objects = 0;
  unsigned reclaimed_sessions = 0;
  bool reclaim_next = false;
  LatencyHistogram quote_cost;
  const auto start = Clock::now();
  for (unsigned quoted = 0; quoted < options.leak_quotes;) {
    {  // one session; its AK is flushed at the end of this block, before any killed run
      auto tpm = TpmSession::open(TpmOptions{tcti, reclaim_next, false});
      if (!tpm) return Error{tpm.error().code, fmt::format("session {}: {}", sessions, tpm.error().message)};
      ++sessions;
      reclaimed_objects += tpm->reclaimed().transient_objects;
      reclaimed_sessions += tpm->reclaimed().loaded_sessions;
      reclaim_next = false;
      for (unsigned round = 0; round < options.session_quotes && quoted < options.leak_quotes; ++round) {
        const auto nonce = random_nonce();
        if (!nonce) return nonce.error();
        const auto quote_start = Clock::now();
        const auto bundle = quote_log(*tpm, log, *nonce);
        if (!bundle) return Error{bundle.error().code, fmt::format("quote {}: {}", quoted, bundle.error().message)};
        quote_cost.record(elapsed_ns(quote_start));
        if (!verify_bundle(*bundle, *nonce, policy).accepted()) {
          return invalid_argument(fmt::format("quote {} was rejected", quoted));
        }
        ++quoted;
        if (options.kill_every != 0 && quoted % options.kill_every == 0) reclaim_next = true;
      }
    }
    if (!reclaim_next) continue;
    const int status = std::system(
        fmt::format("{} attest quote --tcti {} --nonce 01 --out /dev/null --kill-after-key-loaded >/dev/null 2>&1",
                    *aether, tcti)
            .c_str());
    const bool killed = (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                        (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL);  // as sh reports it
    if (!killed) return invalid_argument(fmt::format("the killed run ended with status {:#x}, not SIGKILL", status));
    ++kills;
  }
  if (reclaim_next) {  // the last killed run's AK, reclaimed as the next run would
    auto tpm = TpmSession::open(TpmOptions{tcti, true, false});
    if (!tpm) return tpm.error();
    ++sessions;
    reclaimed_objects += tpm->reclaimed().transient_objects;
    reclaimed_sessions += tpm->reclaimed().loaded_sessions;
  }
  const double seconds = static_cast<double>(elapsed_ns(start)) / 1e9;
  const auto after = tpm_leftovers(tcti);
  if (!after) return after.error();
  return nlohmann::json{{"quotes", options.leak_quotes},
                        {"sessions", sessions},
                        {"killed_runs", kills},
                        {"reclaimed", {{"transient_objects", reclaimed_objects}, {"loaded_sessions", reclaimed_sessions}}},
                        {"tpm_handles_before", counts_json(*before)},
                        {"tpm_handles_after", counts_json(*after)},
                        {"seconds", seconds},
                        {"quote", summary_ms(quote_cost)}};
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
  if (options.leak_quotes > 0) {
    ::rmdir(directory.c_str());
    auto leak = run_leak(tcti, options);
    if (!leak) return fail(leak.error());
    report["leak_run"] = *leak;
    fmt::print("{}\n", report.dump(2));
    if (!options.json_path.empty()) write_text(options.json_path, report.dump(2) + "\n");
    const TpmHandleCounts after{(*leak)["tpm_handles_after"]["transient_objects"].get<unsigned>(),
                                (*leak)["tpm_handles_after"]["loaded_sessions"].get<unsigned>()};
    return after.transient_objects == 0 && after.loaded_sessions == 0 ? exit_ok : exit_failure;
  }
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
  command->add_option("--leak-quotes", options->leak_quotes,
                      "Instead: the handle-leak run of this many quotes, reporting TPM handles before and after");
  command->add_option("--session-quotes", options->session_quotes, "Leak run: quotes per TPM session")
      ->capture_default_str();
  command->add_option("--kill-every", options->kill_every,
                      "Leak run: a run killed with SIGKILL mid-quote every this many quotes (0: none)")
      ->capture_default_str();
  command->callback([options, &exit_code] { exit_code = run_attest_bench(*options); });
}

}  // namespace aether::cli
