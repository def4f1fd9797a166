// `aether attest quote|verify|policy|watch`: measure this host's partition,
// binary, config and passthrough devices into a TPM PCR, quote it, and check
// a quote against golden values. The work is in src/attest; this file is the
// command line (docs/attestation.md).
#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "aether/attest/attestation.hpp"
#include "aether/attest/measurements.hpp"
#include "aether/attest/policy.hpp"
#include "aether/attest/tpm_session.hpp"
#include "aether/attest/verify.hpp"
#include "aether/attest/watch.hpp"
#include "commands.hpp"
#include "aether/runtime/stop_signal.hpp"

namespace aether::cli {
namespace {

using namespace aether::attest;

struct AttestOptions {
  std::string tcti;  // empty: $AETHER_TCTI, else device:/dev/tpmrm0
  bool no_reclaim = false;
  std::string config;
  std::vector<std::string> devices;
  std::string nonce;
  std::string out;
  std::string quote_file;
  std::string policy;
  unsigned interval_ms = 100;
  unsigned rounds = 0;  // watch: 0 = until Ctrl-C
  bool exit_on_drift = false;
  bool kill_after_key_loaded = false;  // hidden, tests: kill -9 mid-quote
  std::string sysfs_root = "/sys";     // hidden, tests: a fake tree
  std::string proc_root = "/proc";
};

int fail(std::string_view command, const Error& error) {
  fmt::print(stderr, "aether attest {}: {}\n", command, error.describe());
  return exit_failure;
}

TpmOptions tpm_options_of(const AttestOptions& options) {
  TpmOptions tpm;
  if (!options.tcti.empty()) {
    tpm.tcti = options.tcti;
  } else if (const char* from_environment = std::getenv("AETHER_TCTI")) {
    tpm.tcti = from_environment;
  }
  tpm.reclaim = !options.no_reclaim;
  tpm.kill_after_key_loaded = options.kill_after_key_loaded;
  return tpm;
}

Result<MeasureOptions> measure_options_of(const AttestOptions& options) {
  MeasureOptions measure;
  measure.roots = partition::HostRoots{options.sysfs_root, options.proc_root};
  measure.config = options.config;
  for (const auto& text : options.devices) {
    auto address = vfio::PciAddress::parse(text);
    if (!address) return invalid_argument(fmt::format("--device '{}': not a PCI address (DDDD:BB:DD.F)", text));
    measure.devices.push_back(*address);
  }
  return measure;
}

Result<TpmSession> open_tpm(const AttestOptions& options) {
  auto tpm = TpmSession::open(tpm_options_of(options));
  if (tpm) {
    const auto reclaimed = tpm->reclaimed();
    if (reclaimed.transient_objects + reclaimed.loaded_sessions > 0) {
      fmt::print(stderr, "aether attest: reclaimed {} transient objects and {} sessions an earlier run left on the TPM\n",
                 reclaimed.transient_objects, reclaimed.loaded_sessions);
    }
  }
  return tpm;
}

int run_quote(const AttestOptions& options) {
  auto nonce = from_hex(options.nonce, "--nonce");
  if (!nonce) return fail("quote", nonce.error());
  if (nonce->empty() || nonce->size() > 64) return fail("quote", invalid_argument("--nonce: 1 to 64 bytes of hex"));
  auto measure = measure_options_of(options);
  if (!measure) return fail("quote", measure.error());
  auto log = measure_host(*measure);
  if (!log) return fail("quote", log.error());
  auto tpm = open_tpm(options);
  if (!tpm) return fail("quote", tpm.error());
  auto bundle = quote_log(*tpm, std::move(*log), *nonce);
  if (!bundle) return fail("quote", bundle.error());
  if (auto present = check_devices_still_present(bundle->log, *measure); !present) {
    return fail("quote", present.error());
  }
  if (auto written = write_json_file(options.out, bundle_to_json(*bundle)); !written) {
    return fail("quote", written.error());
  }
  fmt::print("quoted {} measurements in PCR {} to {}\n", bundle->log.events.size(), bundle->log.pcr, options.out);
  return exit_ok;
}

int run_verify(const AttestOptions& options) {
  auto nonce = from_hex(options.nonce, "--nonce");
  if (!nonce) return fail("verify", nonce.error());
  auto bundle = read_bundle_file(options.quote_file);
  if (!bundle) return fail("verify", bundle.error());
  auto policy = read_policy_file(options.policy);
  if (!policy) return fail("verify", policy.error());
  const VerifyReport report = verify_bundle(*bundle, *nonce, *policy);
  if (report.accepted()) {
    fmt::print("accepted: {} measurements match {}\n", bundle->log.events.size(), options.policy);
    return exit_ok;
  }
  fmt::print("rejected: {} mismatches\n", report.failures.size());
  for (const auto& failure : report.failures) fmt::print("  {}\n", failure);
  return exit_failure;
}

int run_policy(const AttestOptions& options) {
  auto measure = measure_options_of(options);
  if (!measure) return fail("policy", measure.error());
  auto log = measure_host(*measure);
  if (!log) return fail("policy", log.error());
  auto tpm = open_tpm(options);
  if (!tpm) return fail("policy", tpm.error());
  const Policy policy = policy_from_log(*log, tpm->attestation_key());
  if (auto written = write_json_file(options.out, policy_to_json(policy)); !written) {
    return fail("policy", written.error());
  }
  fmt::print("wrote the golden values of {} measurements and this TPM's attestation key to {}\n",
             policy.measurements.size(), options.out);
  return exit_ok;
}

int run_watch(const AttestOptions& options) {
  auto policy = read_policy_file(options.policy);
  if (!policy) return fail("watch", policy.error());
  auto measure = measure_options_of(options);
  if (!measure) return fail("watch", measure.error());
  auto tpm = open_tpm(options);
  if (!tpm) return fail("watch", tpm.error());
  auto watcher = Watcher::create(*tpm, std::move(*measure), std::move(*policy));
  if (!watcher) return fail("watch", watcher.error());
  const auto& stop = runtime::install_stop_signals();
  const auto interval = std::chrono::milliseconds(options.interval_ms);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> last;
  bool drifted = false;
  for (unsigned round = 0; (options.rounds == 0 || round < options.rounds) && !stop.load(); ++round) {
    const auto due = start + round * interval;
    std::this_thread::sleep_until(due);
    auto report = watcher->check_once();
    if (!report) return fail("watch", report.error());
    const double at_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (round == 0 || report->failures != last) {
      if (report->accepted()) {
        fmt::print("{:.1f} ms: accepted\n", at_ms);
      } else {
        fmt::print("{:.1f} ms: DRIFT, {} mismatches\n", at_ms, report->failures.size());
        for (const auto& failure : report->failures) fmt::print("  {}\n", failure);
      }
      std::fflush(stdout);
    }
    drifted = drifted || !report->accepted();
    last = std::move(report->failures);
    if (drifted && options.exit_on_drift) break;
  }
  return drifted ? exit_failure : exit_ok;
}

void add_tpm_options(CLI::App& command, AttestOptions& options) {
  command.add_option("--tcti", options.tcti,
                     "TPM connection for libtss2 (default $AETHER_TCTI, else device:/dev/tpmrm0), "
                     "e.g. swtpm:path=/run/swtpm.sock");
  command.add_flag("--no-reclaim", options.no_reclaim,
                   "Do not flush transient objects and sessions left on the TPM (a TPM shared with other programs)");
  command.add_flag("--kill-after-key-loaded", options.kill_after_key_loaded, "tests: SIGKILL mid-quote")->group("");
}

void add_measure_options(CLI::App& command, AttestOptions& options) {
  command.add_option("--config", options.config, "Aether config file to measure");
  command.add_option("--device", options.devices,
                     "A passthrough device to measure whatever its driver (repeatable; vfio-pci ones always are)");
  command.add_option("--sysfs-root", options.sysfs_root, "Read sysfs from this directory (tests)")->group("");
  command.add_option("--proc-root", options.proc_root, "Read procfs from this directory (tests)")->group("");
}

}  // namespace

void register_attest(CLI::App& app, int& exit_code) {
  CLI::App* attest = app.add_subcommand(
      "attest",
      "Measure the partition, binary, config and passthrough devices into TPM PCR 23 and prove them to a remote "
      "verifier (docs/attestation.md)");
  attest->require_subcommand(1);

  auto quote = std::make_shared<AttestOptions>();
  CLI::App* quote_command = attest->add_subcommand("quote", "Measure this host and write a signed quote, its event log and the AK");
  quote_command->add_option("--nonce", quote->nonce, "The verifier's challenge, hex (1-64 bytes)")->required();
  quote_command->add_option("--out", quote->out, "Quote file to write")->required();
  add_tpm_options(*quote_command, *quote);
  add_measure_options(*quote_command, *quote);
  quote_command->callback([quote, &exit_code] { exit_code = run_quote(*quote); });

  auto verify = std::make_shared<AttestOptions>();
  CLI::App* verify_command = attest->add_subcommand(
      "verify", "Check a quote: signature, AK, nonce, log replay, every measurement against the policy; exit 1 naming each mismatch");
  verify_command->add_option("quote", verify->quote_file, "Quote file from `aether attest quote`")->required();
  verify_command->add_option("--policy", verify->policy, "Policy file from `aether attest policy`")->required();
  verify_command->add_option("--nonce", verify->nonce, "The challenge issued for this quote, hex")->required();
  verify_command->callback([verify, &exit_code] { exit_code = run_verify(*verify); });

  auto policy = std::make_shared<AttestOptions>();
  CLI::App* policy_command = attest->add_subcommand(
      "policy", "Write the golden values of this (trusted) host and its TPM's attestation key");
  policy_command->add_option("--out", policy->out, "Policy file to write")->required();
  add_tpm_options(*policy_command, *policy);
  add_measure_options(*policy_command, *policy);
  policy_command->callback([policy, &exit_code] { exit_code = run_policy(*policy); });

  auto watch = std::make_shared<AttestOptions>();
  CLI::App* watch_command = attest->add_subcommand(
      "watch", "Re-measure, re-quote and verify every interval; print drift the moment it appears; exit 1 if any");
  watch_command->add_option("--policy", watch->policy, "Policy file to hold the host to")->required();
  watch_command->add_option("--interval-ms", watch->interval_ms, "Time between rounds")->capture_default_str();
  watch_command->add_option("--rounds", watch->rounds, "Stop after this many rounds (0: until Ctrl-C)")->capture_default_str();
  watch_command->add_flag("--exit-on-drift", watch->exit_on_drift, "Stop at the first drift");
  add_tpm_options(*watch_command, *watch);
  add_measure_options(*watch_command, *watch);
  watch_command->callback([watch, &exit_code] { exit_code = run_watch(*watch); });
}

}  // namespace aether::cli
