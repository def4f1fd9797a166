// TPM resources and bad input: no handle or session left after thousands of
// quotes; a run killed with SIGKILL mid-quote leaks its AK, which the next
// run reclaims; a full TPM, no TPM and bad arguments get clear errors.
#include <csignal>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../integration/run_command.hpp"
#include "aether/attest/measurements.hpp"
#include "aether/attest/verify.hpp"
#include "swtpm_fixture.hpp"

namespace aether::attest::test {
namespace {

using aether::test::run_command;
const std::string aether_cli = AETHER_CLI_PATH;

class TpmResources : public SwtpmTest {};

TEST_F(TpmResources, NoHandleOrSessionLeftAfter2000Quotes) {
  EventLog log;
  log.events = {make_event("a", "1\n"), make_event("b", "2\n")};
  const Policy policy = policy_from_log(log, std::nullopt);
  // 200 sessions (each: CreatePrimary, 10 quotes, flush) = 2,000 quotes.
  for (unsigned session = 0; session < 200; ++session) {
    TpmSession tpm = open(false);  // no reclaiming: a leak would accumulate
    for (unsigned round = 0; round < 10; ++round) {
      const std::vector<std::uint8_t> nonce{static_cast<std::uint8_t>(session), static_cast<std::uint8_t>(round)};
      auto bundle = quote_log(tpm, log, nonce);
      ASSERT_TRUE(bundle) << "session " << session << " round " << round << ": " << bundle.error().describe();
      ASSERT_TRUE(verify_bundle(*bundle, nonce, policy).accepted());
    }
  }
  const TpmHandleCounts left = leftovers();
  EXPECT_EQ(left.transient_objects, 0u);
  EXPECT_EQ(left.loaded_sessions, 0u);
}

TEST_F(TpmResources, ErrorPathsFlushTheKeyToo) {
  // A quote that fails (nonce too long for TPM2B_DATA) and a PCR reset the
  // TPM refuses (PCR 10 at locality 0) must not leave the AK loaded.
  for (int i = 0; i < 5; ++i) {
    TpmSession tpm = open(false);
    EXPECT_FALSE(tpm.quote(aether_pcr, std::vector<std::uint8_t>(65, 1)));
    auto refused = tpm.reset_pcr(10);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("0x907"), std::string::npos) << refused.error().message;
  }
  EXPECT_EQ(leftovers().transient_objects, 0u);
}

TEST_F(TpmResources, KilledRunsLeakTheirKeysWhichTheNextRunReclaims) {
  const std::string quote = fmt::format("{} attest quote --tcti {} --nonce 01 --out {}/q.json", aether_cli, tcti(),
                                        directory().string());
  for (int kill = 0; kill < 3; ++kill) {
    // --no-reclaim so that each killed run's AK stays, as with three runs at once.
    const auto killed = run_command(quote + " --no-reclaim --kill-after-key-loaded");
    EXPECT_EQ(killed.exit_code, 128 + SIGKILL) << "expected death by SIGKILL: " << killed.err;  // as sh reports it
  }
  // Three killed runs fill swtpm's 3 object slots: the next run could not load its AK...
  EXPECT_EQ(TpmSession::open(TpmOptions{tcti(), false, false}).ok(), false);
  // ...unless it reclaims them, which it says.
  const auto next = run_command(quote);
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_NE(next.err.find("reclaimed 3 transient objects"), std::string::npos) << next.err;
  const TpmHandleCounts left = leftovers();
  EXPECT_EQ(left.transient_objects, 0u);
  EXPECT_EQ(left.loaded_sessions, 0u);
}

// `aether bench attest --leak-quotes`, the same at scale (docs/attestation.md
// has a 100,000-quote run); here a short one: 3 runs killed mid-quote, each
// reclaimed by the next session, nothing left before or after.
TEST_F(TpmResources, LeakBenchKillsReclaimsAndLeavesNothing) {
  const auto result = run_command(aether_cli + " bench attest --tcti " + tcti() +
                                  " --leak-quotes 300 --session-quotes 50 --kill-every 100");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const auto report = nlohmann::json::parse(result.out.substr(result.out.find('{')), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << result.out;
  const auto& leak = report["leak_run"];
  EXPECT_EQ(leak["quotes"], 300) << leak.dump();
  EXPECT_EQ(leak["killed_runs"], 3) << leak.dump();
  EXPECT_EQ(leak["reclaimed"]["transient_objects"], 3) << leak.dump();
  EXPECT_EQ(leak["tpm_handles_before"]["transient_objects"], 0) << leak.dump();
  EXPECT_EQ(leak["tpm_handles_after"]["transient_objects"], 0) << leak.dump();
  EXPECT_EQ(leak["tpm_handles_after"]["loaded_sessions"], 0) << leak.dump();
}

TEST_F(TpmResources, FullTpmIsNamedWhenNotReclaiming) {
  // tpm2-tools leave their primary objects loaded on a TPM without a resource manager.
  for (int i = 0; i < 3; ++i) {
    const auto made = run_command(fmt::format("tpm2_createprimary -T {} -C o -c {}/primary{}.ctx", tcti(),
                                              directory().string(), i));
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }
  const std::string quote = fmt::format("{} attest quote --tcti {} --nonce 01 --out {}/q.json", aether_cli, tcti(),
                                        directory().string());
  const auto full = run_command(quote + " --no-reclaim");
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_NE(full.err.find("out of object memory (TPM_RC_OBJECT_MEMORY 0x902)"), std::string::npos) << full.err;
  const auto reclaiming = run_command(quote);
  EXPECT_EQ(reclaiming.exit_code, 0) << reclaiming.err;
}

TEST(AttestBadInput, NoTpmReachable) {
  const auto result = run_command(aether_cli + " attest quote --tcti swtpm:path=/nonexistent/swtpm.sock --nonce 01 --out /tmp/x");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("no TPM reachable at TCTI 'swtpm:path=/nonexistent/swtpm.sock'"), std::string::npos)
      << result.err;
}

TEST(AttestBadInput, MissingAndMalformedFiles) {
  const auto no_quote = run_command(aether_cli + " attest verify /nonexistent/q.json --policy /nonexistent/p.json --nonce 01");
  EXPECT_EQ(no_quote.exit_code, 1);
  EXPECT_NE(no_quote.err.find("/nonexistent/q.json"), std::string::npos) << no_quote.err;
  const auto bad_nonce = run_command(aether_cli + " attest quote --nonce xyz --out /tmp/x");
  EXPECT_EQ(bad_nonce.exit_code, 1);
  EXPECT_NE(bad_nonce.err.find("--nonce"), std::string::npos) << bad_nonce.err;
  const auto bad_device = run_command(aether_cli + " attest quote --nonce 01 --out /tmp/x --device 0000:zz");
  EXPECT_EQ(bad_device.exit_code, 1);
  EXPECT_NE(bad_device.err.find("--device '0000:zz'"), std::string::npos) << bad_device.err;
}

TEST_F(TpmResources, WrongPolicyFileAndVanishedDevice) {
  const std::string dir = directory().string();
  const auto quoted = run_command(fmt::format("{} attest quote --tcti {} --nonce 01 --out {}/q.json", aether_cli, tcti(), dir));
  ASSERT_EQ(quoted.exit_code, 0) << quoted.err;
  // A quote file given as the policy.
  const auto wrong = run_command(fmt::format("{0} attest verify {1}/q.json --policy {1}/q.json --nonce 01", aether_cli, dir));
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("not an Aether policy"), std::string::npos) << wrong.err;
  // A device asked for that is not there (or vanished since it was listed).
  const auto vanished = run_command(
      fmt::format("{} attest quote --tcti {} --nonce 01 --out {}/q.json --device 0000:7f:1f.7", aether_cli, tcti(), dir));
  EXPECT_EQ(vanished.exit_code, 1);
  EXPECT_NE(vanished.err.find("device 0000:7f:1f.7"), std::string::npos) << vanished.err;
}

}  // namespace
}  // namespace aether::attest::test
