// Quote and verify on this host's real /sys and /proc with a real (software)
// TPM, in process and through the `aether attest` command line, and the same
// quote checked by tpm2-tools' tpm2_checkquote.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../integration/run_command.hpp"
#include "aether/attest/measurements.hpp"
#include "aether/attest/verify.hpp"
#include "aether/attest/watch.hpp"
#include "swtpm_fixture.hpp"

namespace aether::attest::test {
namespace {

using aether::test::run_command;
const std::string aether_cli = AETHER_CLI_PATH;

void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

class QuoteVerify : public SwtpmTest {};

TEST_F(QuoteVerify, RealHostRoundTripIsAccepted) {
  TpmSession tpm = open();
  auto log = measure_host(MeasureOptions{});
  ASSERT_TRUE(log) << log.error().describe();
  const Policy policy = policy_from_log(*log, tpm.attestation_key());
  const std::vector<std::uint8_t> nonce{1, 2, 3, 4, 5, 6, 7, 8};
  auto bundle = quote_log(tpm, *log, nonce);
  ASSERT_TRUE(bundle) << bundle.error().describe();
  const VerifyReport report = verify_bundle(*bundle, nonce, policy);
  EXPECT_TRUE(report.accepted()) << ::testing::PrintToString(report.failures);
  // The PCR holds what the log replays to.
  auto pcr = tpm.read_pcr(aether_pcr);
  ASSERT_TRUE(pcr);
  EXPECT_EQ(*pcr, log->replay());
  // The bundle survives its JSON file form.
  auto reparsed = bundle_from_json(bundle_to_json(*bundle));
  ASSERT_TRUE(reparsed) << reparsed.error().message;
  EXPECT_TRUE(verify_bundle(*reparsed, nonce, policy).accepted());
}

TEST_F(QuoteVerify, SameTpmSameAttestationKey) {
  const AkPublic first = open().attestation_key();
  const AkPublic second = open().attestation_key();
  EXPECT_EQ(first, second);  // a primary key: derived from the endorsement seed
  EXPECT_EQ(first.x.size(), 32u);
}

TEST_F(QuoteVerify, Tpm2CheckquoteAcceptsAethersQuote) {
  TpmSession tpm = open();
  auto log = measure_host(MeasureOptions{});
  ASSERT_TRUE(log);
  const std::vector<std::uint8_t> nonce{0xde, 0xad, 0xbe, 0xef};
  auto bundle = quote_log(tpm, *log, nonce);
  ASSERT_TRUE(bundle);
  auto pem = ak_public_pem(bundle->attestation_key);
  ASSERT_TRUE(pem) << pem.error().message;
  const auto dir = directory();
  std::ofstream(dir / "ak.pem") << *pem;
  write_file(dir / "quote.msg", bundle->quoted);
  write_file(dir / "quote.sig", tpmt_signature_bytes(*bundle));
  const std::string checkquote = fmt::format("tpm2_checkquote -u {0}/ak.pem -m {0}/quote.msg -s {0}/quote.sig -g sha256",
                                             dir.string());
  const auto good = run_command(checkquote + " -q deadbeef");
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  const auto stale = run_command(checkquote + " -q deadbeee");
  EXPECT_NE(stale.exit_code, 0) << "tpm2_checkquote accepted another nonce";
  auto flipped = bundle->quoted;
  flipped.back() ^= 1;
  write_file(dir / "quote.msg", flipped);
  const auto forged = run_command(checkquote + " -q deadbeef");
  EXPECT_NE(forged.exit_code, 0) << "tpm2_checkquote accepted a changed quote";
}

TEST_F(QuoteVerify, CommandLineRoundTripAndNamedRejection) {
  const auto dir = directory().string();
  std::ofstream(dir + "/aether.conf") << "cpus = 2-3\n";
  const std::string common = fmt::format("--tcti {} --config {}/aether.conf", tcti(), dir);
  const auto policy = run_command(fmt::format("{} attest policy {} --out {}/policy.json", aether_cli, common, dir));
  ASSERT_EQ(policy.exit_code, 0) << policy.err;
  const auto quote = run_command(fmt::format("{} attest quote {} --nonce 00112233 --out {}/quote.json", aether_cli, common, dir));
  ASSERT_EQ(quote.exit_code, 0) << quote.err;
  const std::string verify = fmt::format("{} attest verify {}/quote.json --policy {}/policy.json", aether_cli, dir, dir);
  const auto accepted = run_command(verify + " --nonce 00112233");
  EXPECT_EQ(accepted.exit_code, 0) << accepted.out << accepted.err;
  EXPECT_NE(accepted.out.find("accepted"), std::string::npos);

  std::ofstream(dir + "/aether.conf") << "cpus = 1-3\n";
  const auto changed =
      run_command(fmt::format("{} attest quote {} --nonce 44556677 --out {}/quote.json", aether_cli, common, dir));
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  const auto rejected = run_command(verify + " --nonce 44556677");
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_NE(rejected.out.find("aether.config: differs from the policy"), std::string::npos) << rejected.out;
}

TEST_F(QuoteVerify, WatchReportsDriftOfTheConfig) {
  const auto dir = directory();
  std::ofstream(dir / "aether.conf") << "a\n";
  TpmSession tpm = open();
  MeasureOptions options;
  options.config = dir / "aether.conf";
  auto log = measure_host(options);
  ASSERT_TRUE(log);
  auto watcher = Watcher::create(tpm, options, policy_from_log(*log, tpm.attestation_key()));
  ASSERT_TRUE(watcher) << watcher.error().describe();
  auto first = watcher->check_once();
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->accepted()) << ::testing::PrintToString(first->failures);
  std::ofstream(dir / "aether.conf") << "b\n";
  auto second = watcher->check_once();
  ASSERT_TRUE(second);
  ASSERT_EQ(second->failures.size(), 1u) << ::testing::PrintToString(second->failures);
  EXPECT_EQ(second->failures[0].rfind("aether.config:", 0), 0u) << second->failures[0];
}

TEST_F(QuoteVerify, WatchCommandExitsOnDrift) {
  const auto dir = directory().string();
  std::ofstream(dir + "/aether.conf") << "a\n";
  const std::string common = fmt::format("--tcti {} --config {}/aether.conf", tcti(), dir);
  ASSERT_EQ(run_command(fmt::format("{} attest policy {} --out {}/policy.json", aether_cli, common, dir)).exit_code, 0);
  const auto steady = run_command(
      fmt::format("{} attest watch {} --policy {}/policy.json --interval-ms 20 --rounds 3", aether_cli, common, dir));
  EXPECT_EQ(steady.exit_code, 0) << steady.out << steady.err;
  std::ofstream(dir + "/aether.conf") << "b\n";
  const auto drift = run_command(fmt::format(
      "{} attest watch {} --policy {}/policy.json --interval-ms 20 --rounds 50 --exit-on-drift", aether_cli, common, dir));
  EXPECT_EQ(drift.exit_code, 1);
  EXPECT_NE(drift.out.find("DRIFT"), std::string::npos) << drift.out;
  EXPECT_NE(drift.out.find("aether.config"), std::string::npos) << drift.out;
}

}  // namespace
}  // namespace aether::attest::test

namespace aether::attest::test {
namespace {

TEST(BenchAttest, JsonHasEveryFigureAndNoLeftHandles) {
  const auto result = aether::test::run_command(std::string(AETHER_CLI_PATH) +
                                                " bench attest --rounds 20 --cli-rounds 1 --drift-trials 2 --interval-ms 20");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << result.out;
  for (const char* key : {"quote_verify", "measure_without_binary", "binary_hash", "cli_quote_verify", "watch_drift"}) {
    ASSERT_TRUE(report.contains(key)) << key;
    EXPECT_GT(report[key]["count"].get<unsigned>(), 0u) << key;
    EXPECT_LE(report[key]["p50_ms"].get<double>(), report[key]["max_ms"].get<double>()) << key;
  }
  EXPECT_EQ(report["quote_verify"]["count"], 20);
  EXPECT_EQ(report["watch_drift"]["count"], 2);
  EXPECT_EQ(report["tpm_handles_after"]["transient_objects"], 1);  // the bench session's own AK
  EXPECT_EQ(report["tpm_handles_after"]["loaded_sessions"], 0);
}

}  // namespace
}  // namespace aether::attest::test
